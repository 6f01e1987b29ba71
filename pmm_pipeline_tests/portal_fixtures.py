"""Fixtures of the member platform's tests: one configured platform per test session, on a temporary data folder.

Django is configured once per process, so every portal test module shares this platform; tests tell their data
apart by logins and members of their own. The cycles file adds a cycle collecting today ("OPEN") beside the shipped
ones (closed), so uploads are judged on the real calendar rule.
"""

import atexit
import datetime as dt
import json
import socket
import threading

import pytest

from benchmarks.platform_inputs import cycles_file_with_open_cycle
from pmm_pipeline.core.settings import Settings

OPEN_CYCLE = "OPEN"
CLOSED_CYCLE = "2023"
PASSWORD = "correct horse battery staple 42"


# Django is configured once per process, while pytest makes a session fixture imported into several modules once
# per module: the platform and its server are kept here, so that every module gets the same ones.
_ONCE: dict = {}


@pytest.fixture(scope="session")
def portal(tmp_path_factory):
    """The configured platform's pmm Settings (its data folder, limits, cycles)."""
    from pmm_pipeline.portal.config import PortalSettings
    from pmm_pipeline.portal.settings import configure

    if "settings" in _ONCE:
        return _ONCE["settings"]
    root = tmp_path_factory.mktemp("portal")
    data = root / "data"
    settings = Settings.from_env(
        {
            "PMM_DATA_DIR": str(data),
            "PMM_CYCLES_FILE": str(cycles_file_with_open_cycle(root, OPEN_CYCLE, days=30)),
            "PMM_MAX_FILE_BYTES": str(2 * 1024 * 1024),
        }
    )
    configure(settings, PortalSettings.from_env(settings, {}))
    # Still argon2, at a cost for tests: Django's default (100 MiB, 2 passes) takes ~0.8 s a hash on these cores.
    from django.test import override_settings

    override_settings(PASSWORD_HASHERS=["pmm_pipeline_tests.portal_fixtures.TestArgon2Hasher"]).enable()
    _ONCE["settings"] = settings
    return settings


def _test_hasher():
    from django.contrib.auth.hashers import Argon2PasswordHasher

    class TestArgon2Hasher(Argon2PasswordHasher):
        time_cost = 1
        memory_cost = 8192
        parallelism = 1

    return TestArgon2Hasher


def __getattr__(name):  # the hasher class is made once Django is importable (settings name it by path)
    if name == "TestArgon2Hasher":
        globals()[name] = _test_hasher()
        return globals()[name]
    raise AttributeError(name)


_counter = iter(range(1, 10**6))


def make_account(
    role: str, member: str | None = None, lang: str = "en", password: str = PASSWORD, assigned: tuple[str, ...] = ()
):
    """A new account with a login of its own; returns the Django user."""
    from pmm_pipeline.portal import accounts

    login = f"{role}{next(_counter)}"
    user = accounts.add_account(
        login,
        role,
        member=member,
        lang=lang,
        password=password,
        known_members={"KEN", "SEN", "FRA", "BRA", "JPN", member or "KEN", *assigned},
    )
    for code in assigned:
        accounts.assign_reviewer(login, code, known_members={code})
    return user


def json_submission(
    member: str, cycle: str = OPEN_CYCLE, value: int = 1200, electronic: int = 1100, disclosure: dict | None = None
) -> bytes:
    """A small valid JSON submission (years of the OPEN cycle: T=2025, T-1=2024)."""
    document = {
        "format": "pmm-submission",
        "format_version": 1,
        "member": member,
        "cycle": cycle,
        "submitted_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "answers": [
            {"item": "declarations_total", "year": 2025, "value": value},
            {"item": "declarations_electronic", "year": 2025, "value": electronic},
            {"item": "aeo_count", "year": 2025, "value": 40},
            {"item": "aeo_count", "year": 2024, "value": 35},
        ],
        "disclosure": disclosure or {},
    }
    return json.dumps(document).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(portal):
    """The platform under waitress on 127.0.0.1, in a thread: its base URL."""
    from pmm_pipeline.portal.server import make_server

    if "server" not in _ONCE:
        server = make_server("127.0.0.1", free_port(), portal)
        threading.Thread(target=server.run, daemon=True).start()
        _ONCE["server"] = server
        atexit.register(server.close)
    return f"http://127.0.0.1:{_ONCE['server'].effective_port}"


def publish_profiles(published_dir, members, title="Profile of {member}"):
    """A profiles folder as the publishing stage writes it (built aside, listed in its manifest, switched in)."""
    import json

    from pmm_pipeline.stages.publishing.folders import write_folder
    from pmm_pipeline.stages.publishing.profile_document import PROFILE_FORMAT
    from pmm_pipeline.stages.publishing.profiles import PROFILE_FILE, PROFILES_FOLDER, profile_html

    def write(folder):
        rows = {}
        for member in members:
            (folder / member).mkdir()
            document = {"format": PROFILE_FORMAT, "member_code": member, "kpis": []}
            (folder / member / PROFILE_FILE).write_text(json.dumps(document))
            (folder / member / profile_html("en")).write_text(
                f"<html lang='en'><body><h1>{title.format(member=member)}</h1></body></html>"
            )
            rows |= {f"{member}/{PROFILE_FILE}": 1, f"{member}/{profile_html('en')}": 1}
        return rows

    write_folder(published_dir / PROFILES_FOLDER, "t", write, {"format": "pmm-profiles"})
