"""A throw-away PostgreSQL server on 127.0.0.1 for the tests of the `prod` profile.

Uses the distribution's server binaries (Debian's `postgresql` package: /usr/lib/postgresql/<ver>/bin),
installing the package with apt-get when they are missing and we are root (as `.ci/run` is). The
cluster lives in a temporary folder, listens on a free port of 127.0.0.1 only, trusts local
connections (privileges, not passwords, are what the tests check) and is stopped at the end.
PostgreSQL refuses to run as root, so as root it runs as the package's `postgres` system user.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """The server binaries are missing and could not be installed here."""


def server_bin_dir() -> Path:
    """The folder of initdb/pg_ctl, installing Debian's postgresql package if needed and possible."""
    found = _find_bin_dir()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresUnavailableError("no PostgreSQL server binaries (initdb, pg_ctl), and not root to apt-get them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise PostgresUnavailableError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    found = _find_bin_dir()
    if not found:
        raise PostgresUnavailableError("apt-get installed postgresql but no initdb/pg_ctl was found")
    return found


def _find_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in candidates:
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    on_path = shutil.which("pg_ctl")
    return Path(os.path.realpath(on_path)).parent if on_path and shutil.which("initdb") else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    superuser: str

    def url(self, user: str | None = None, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{user or self.superuser}@{self.host}:{self.port}/{database}"

    def connect(self, user: str | None = None, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=user or self.superuser, dbname=database)

    def require_password(self, role: str, password: str) -> None:
        """From now on `role` must give `password` (scram-sha-256) to log in, as on a production server."""
        import psycopg
        from psycopg import sql

        with self.connect() as conn:
            conn.autocommit = True
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
            hba = Path(conn.execute("SHOW hba_file").fetchall()[0][0])
            hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
            conn.execute("SELECT pg_reload_conf()")
        # The server applies the file when it gets round to the reload signal: wait until it refuses the role.
        for _ in range(600):
            try:
                psycopg.connect(host=self.host, port=self.port, user=role, dbname="postgres", password="").close()
            except psycopg.OperationalError as refused:
                if "password" in str(refused):
                    return
                raise
            time.sleep(0.05)
        raise RuntimeError(f"the server still lets {role} in without a password")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bin_dir = server_bin_dir()
    as_root = os.geteuid() == 0
    runner: list[str] = []
    if as_root:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailableError("running as root with no `postgres` system user to run the server") from None
        runner = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="pmm-pg-"))
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    sockets.mkdir()
    if as_root:
        for path in (base, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = free_port()
    pg_ctl = [*runner, str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [
                *runner,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *pg_ctl,
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off",
            ],
            check=True,
            capture_output=True,
        )
        yield PostgresServer("127.0.0.1", port, "postgres")
    except subprocess.CalledProcessError as failed:
        server_log = log.read_text() if log.exists() else ""
        raise RuntimeError(f"{failed.cmd} failed: {failed.stderr!r}\n{server_log[-2000:]}") from failed
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
