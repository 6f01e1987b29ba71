"""`pmm portal` and `pmm accounts`: the member platform served, and its accounts managed from the command line."""

import argparse
import json
import sys

from pmm_pipeline.app.arguments import MEMBER_HELP, CommandError, add_command, language, member_of
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.reference.load import load_reference


def cmd_portal(args: argparse.Namespace, settings: Settings) -> int:
    from pmm_pipeline.portal.commands import portal

    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} must be from 1 to 65535")
    try:
        portal(settings, args.host, args.port)
    except OSError as err:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {err.strerror or err}") from None
    return 0


def _accounts(args: argparse.Namespace, settings: Settings):
    """The platform's account commands (portal/commands.py), their AccountError as a one-line error."""
    from pmm_pipeline.portal import commands
    from pmm_pipeline.portal.errors import AccountError

    try:
        return ACCOUNT_ACTIONS[args.accounts_command](commands, args, settings)
    except AccountError as err:
        raise CommandError(str(err)) from None


# What each `pmm accounts` command calls in portal/commands.py.
ACCOUNT_ACTIONS = {
    "add": lambda c, a, s: c.accounts_add(s, a.login, a.role, a.member, a.lang, a.password_stdin),
    "password": lambda c, a, s: c.accounts_password(s, a.login),
    "token": lambda c, a, s: c.accounts_token(s, a.login),
    "disable": lambda c, a, s: c.accounts_disable(s, a.login),
    "assign": lambda c, a, s: c.accounts_assign(s, a.login, a.member),
    "list": lambda c, a, s: c.accounts_list(s),
    "demo": lambda c, a, s: c.accounts_demo(
        s, member_of(load_reference(s.reference_dir, s.cycles_file), a.member), a.lang
    ),
}


def cmd_accounts(args: argparse.Namespace, settings: Settings) -> int:
    result = _accounts(args, settings)
    what = args.accounts_command
    if what == "token":
        print(result)
        print(f"(the API token of {args.login}: shown this once, kept only as a hash)", file=sys.stderr)
    elif what == "demo":
        print("Demo accounts of the PMM platform (new passwords, shown this once):")
        print("\n".join(result))
    elif what == "list" and args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif what == "list":
        for row in result:
            state = "" if row["active"] else "  (disabled)"
            bound = row["member"] or ",".join(row["assigned"]) or "-"
            print(f"{row['login']:<24} {row['role']:<12} {bound:<12} {row['lang']}{state}")
    else:
        print(result)
    return 0


def add_platform_commands(commands) -> None:
    """The parsers of `pmm portal` and `pmm accounts ...` under the top-level `commands`."""
    portal = add_command(
        commands,
        "portal",
        "serve the member platform (web pages and the API under /api/v1/)",
        ("pmm portal", "pmm portal --host 127.0.0.1 --port 8080"),
        cmd_portal,
        "Serves the PMM data collection platform with waitress until Ctrl-C. Its database (accounts, uploads,"
        " notes, audit trail) is PMM_DATA_DIR/portal.sqlite3, or PMM_PORTAL_DATABASE_URL; migrations are applied"
        " on start. Uploads go through the pipeline's intake into landing/<cycle>/.",
    )
    portal.add_argument("--host", default="127.0.0.1", help="address to listen on")
    portal.add_argument("--port", type=int, default=8080, help="port to listen on")

    accounts = add_command(
        commands,
        "accounts",
        "manage the platform's accounts: add, password, token, disable, assign, list, demo",
        (
            "echo 'a long passphrase' | pmm accounts add --login ken.ncp --role ncp --member KEN --lang fr"
            " --password-stdin",
            "pmm accounts token --login ken.ncp",
            "pmm accounts assign --login expert1 --member KEN",
            "pmm accounts disable --login ken.ncp",
            "pmm accounts list",
        ),
        None,
    )
    accounts_commands = accounts.add_subparsers(dest="accounts_command", required=True, metavar="command")
    add = add_command(
        accounts_commands,
        "add",
        "add an account: an NCP of one member, the Secretariat or a peer reviewer",
        ("pmm accounts add --login ken.ncp --role ncp --member KEN --lang fr --password-stdin",),
        cmd_accounts,
    )
    add.add_argument("--login", required=True, help="the sign-in name")
    add.add_argument("--role", required=True, choices=("ncp", "secretariat", "reviewer"), help="the account's role")
    add.add_argument("--member", default=None, help="ncp only: " + MEMBER_HELP)
    add.add_argument("--lang", type=language, default="en", help="en, fr or es: the pages' language")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    # The commands that take only the account.
    for name, help_text, example in (
        ("password", "set an account's password from standard input (one line)", "< passphrase.txt"),
        ("token", "print a new API token for the account, once (only its hash is kept)", ""),
        ("disable", "disable an account: no sign-in, sessions ended, tokens refused", ""),
    ):
        one = add_command(
            accounts_commands,
            name,
            help_text,
            (f"pmm accounts {name} --login ken.ncp {example}".strip(),),
            cmd_accounts,
        )
        one.add_argument("--login", required=True, help="the account")
    assign = add_command(
        accounts_commands,
        "assign",
        "assign a peer reviewer to a member",
        ("pmm accounts assign --login expert1 --member KEN",),
        cmd_accounts,
    )
    assign.add_argument("--login", required=True, help="the reviewer's account")
    assign.add_argument("--member", required=True, help=MEMBER_HELP)
    listed = add_command(
        accounts_commands, "list", "list the accounts", ("pmm accounts list", "pmm accounts list --json"), cmd_accounts
    )
    listed.add_argument("--json", action="store_true", help="print a JSON list")
    demo = add_command(
        accounts_commands,
        "demo",
        "create (or reset) a demo NCP and a demo Secretariat account with new passwords printed once",
        ("pmm accounts demo --member KEN",),
        cmd_accounts,
    )
    demo.add_argument("--member", default="KEN", help="the demo NCP's member: " + MEMBER_HELP)
    demo.add_argument("--lang", type=language, default="en", help="en, fr or es")
