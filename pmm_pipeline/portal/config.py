"""The member platform's own `PMM_PORTAL_*` settings, read from the environment only when asked (never at import).

Kept beside the platform rather than in core/settings.py: only the platform reads them, and the pipeline's
Settings (data folder, limits, the Dagster UI's address) are passed in whole.
"""

import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.settings import Settings

SECRET_FILE = "portal_secret_key"
DATABASE_FILE = "portal.sqlite3"
DEFAULT_SESSION_SECONDS = 8 * 3600  # a working day: an unattended browser does not stay signed in overnight
DEFAULT_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class PortalSettings:
    data_dir: Path
    database_url: str | None = None  # PMM_PORTAL_DATABASE_URL: postgresql://user:pw@host:5432/db (prod profile)
    secret_key: str | None = None  # PMM_PORTAL_SECRET_KEY: else made once in the data folder
    secure_cookies: bool = False  # PMM_PORTAL_SECURE_COOKIES: 1 behind TLS (prod profile)
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS  # PMM_PORTAL_ALLOWED_HOSTS: comma-separated host names
    session_seconds: int = DEFAULT_SESSION_SECONDS  # PMM_PORTAL_SESSION_SECONDS

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str] | None = None) -> "PortalSettings":
        env = os.environ if env is None else env
        hosts = tuple(h.strip() for h in (env.get("PMM_PORTAL_ALLOWED_HOSTS") or "").split(",") if h.strip())
        for host in hosts:
            if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]*]+", host):
                raise ValueError(f"PMM_PORTAL_ALLOWED_HOSTS holds {host!r}, which is not a host name")
        seconds = (env.get("PMM_PORTAL_SESSION_SECONDS") or str(DEFAULT_SESSION_SECONDS)).strip()
        if not seconds.isdigit() or int(seconds) < 60:
            raise ValueError(
                f"PMM_PORTAL_SESSION_SECONDS must be a whole number of seconds, 60 or more, got {seconds!r}"
            )
        url = (env.get("PMM_PORTAL_DATABASE_URL") or "").strip() or None
        if url is not None:
            database_config(url, settings.data_dir)  # refuses a URL it cannot use now, not at the first request
        return cls(
            data_dir=settings.data_dir,
            database_url=url,
            secret_key=(env.get("PMM_PORTAL_SECRET_KEY") or "").strip() or None,
            secure_cookies=_flag(env, "PMM_PORTAL_SECURE_COOKIES"),
            allowed_hosts=hosts or DEFAULT_HOSTS,
            session_seconds=int(seconds),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = (env.get(name) or "0").strip().lower()
    if text not in {"0", "1", "true", "false", "yes", "no", ""}:
        raise ValueError(f"{name} must be 1 or 0, got {text!r}")
    return text in {"1", "true", "yes"}


def secret_key(portal: PortalSettings) -> str:
    """The setting, else the key kept in the data folder (made once, readable by its owner only)."""
    if portal.secret_key:
        return portal.secret_key
    path = portal.data_dir / SECRET_FILE
    if not path.exists():
        portal.data_dir.mkdir(parents=True, exist_ok=True)
        # Written whole under another name (mode 0600 from mkstemp), then linked: two processes starting at once
        # both end up with the first key, never one each, and nobody reads a half-written file.
        fd, tmp = tempfile.mkstemp(dir=portal.data_dir, prefix=".portal-key-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_urlsafe(50).encode())
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


_URL = re.compile(
    r"(?P<scheme>postgres(?:ql)?(?:\+psycopg)?|sqlite)://(?:(?P<user>[^:@/]*)(?::(?P<password>[^@/]*))?@)?"
    r"(?P<host>[^:/]*)(?::(?P<port>\d+))?/(?P<name>.+)"
)


def database_config(url: str | None, data_dir: Path) -> dict:
    """Django's DATABASES['default'] from PMM_PORTAL_DATABASE_URL (PostgreSQL), else SQLite in the data folder."""
    if url is None:
        return _sqlite(str(data_dir / DATABASE_FILE))
    from urllib.parse import unquote

    match = _URL.fullmatch(url)
    if not match:
        raise ValueError("PMM_PORTAL_DATABASE_URL must look like postgresql://user:password@host:5432/name")
    if match["scheme"] == "sqlite":
        return _sqlite("/" + match["name"])
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(match["name"]),
        "USER": unquote(match["user"] or ""),
        "PASSWORD": unquote(match["password"] or ""),
        "HOST": match["host"] or "",
        "PORT": match["port"] or "",
        "CONN_MAX_AGE": 60,
    }


def _sqlite(path: str) -> dict:
    # WAL lets pages read while an upload is recorded; IMMEDIATE takes the write lock at the start of a
    # transaction, so concurrent uploads queue (up to the timeout) instead of failing with "database is locked".
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
