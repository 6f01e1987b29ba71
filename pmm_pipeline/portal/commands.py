"""What `pmm portal` and `pmm accounts` do, once the command line is parsed (app/cli.py holds the parser).

Each function configures the platform (migrating its database on first use) and raises AccountError with one line
on bad input; a password comes from standard input only, never from an argument (it would be in `ps` and history).
"""

import secrets
import sys
from typing import TextIO

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.portal.settings import configure

DEMO_NCP = "demo-ncp"
DEMO_SECRETARIAT = "demo-secretariat"


def _known_members(settings: Settings) -> set[str]:
    from pmm_pipeline.portal import intake

    return intake.specs(settings).reference.known_member_codes()


def read_password(stream: TextIO | None) -> str:
    from pmm_pipeline.portal.errors import AccountError

    line = (stream or sys.stdin).readline()
    password = line.rstrip("\r\n")
    if not password:
        raise AccountError("--password-stdin read no password (one line on standard input)")
    return password


def accounts_add(settings: Settings, login, role, member, lang, password_stdin: bool, stdin=None) -> str:
    configure(settings)
    from pmm_pipeline.portal import accounts

    password = read_password(stdin) if password_stdin else None
    user = accounts.add_account(
        login, role, member=member, lang=lang, password=password, known_members=_known_members(settings)
    )
    bound = f" for {user.pmm.member}" if user.pmm.member else ""
    signs_in = "" if password else " (no password: it uses API tokens; add one with --password-stdin to sign in)"
    return f"account {user.username} added: {role}{bound}, language {lang}{signs_in}"


def accounts_password(settings: Settings, login: str, stdin=None) -> str:
    configure(settings)
    from pmm_pipeline.portal import accounts

    accounts.set_password(login, read_password(stdin))
    return f"password of {login} set"


def accounts_token(settings: Settings, login: str) -> str:
    configure(settings)
    from pmm_pipeline.portal import accounts

    return accounts.issue_token(login)


def accounts_disable(settings: Settings, login: str) -> str:
    configure(settings)
    from pmm_pipeline.portal import accounts

    accounts.disable_account(login)
    return f"account {login} disabled: it cannot sign in and its tokens no longer work"


def accounts_assign(settings: Settings, login: str, member: str) -> str:
    configure(settings)
    from pmm_pipeline.portal import accounts

    accounts.assign_reviewer(login, member, known_members=_known_members(settings))
    return f"reviewer {login} assigned to {member.strip().upper()}"


def accounts_list(settings: Settings) -> list[dict]:
    configure(settings)
    from pmm_pipeline.portal import accounts

    return accounts.list_accounts()


def accounts_demo(settings: Settings, member: str, lang: str) -> list[str]:
    """A demo NCP for `member` and a demo Secretariat account, each with a new generated password shown once."""
    configure(settings)
    from django.contrib.auth import get_user_model

    from pmm_pipeline.portal import accounts

    known = _known_members(settings)
    lines = []
    for login, role, bound in ((DEMO_NCP, "ncp", member), (DEMO_SECRETARIAT, "secretariat", None)):
        password = secrets.token_urlsafe(12)
        if get_user_model().objects.filter(username=login).exists():
            accounts.set_password(login, password)
        else:
            accounts.add_account(login, role, member=bound, lang=lang, password=password, known_members=known)
        lines.append(f"  {role:<12} login {login:<17} password {password}")
    return lines


def portal(settings: Settings, host: str, port: int) -> None:
    from pmm_pipeline.portal.server import serve

    serve(host, port, settings)
