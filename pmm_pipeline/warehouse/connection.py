"""The DuckDB warehouse file: one holder at a time, connections always closed, corruption named.

DuckDB lets one process open a database file for writing, and while it has it open no other
process can open it at all ("Could not set lock on file"); inside one process, concurrent
transactions on the same tables conflict instead. So the warehouse has a turn: an exclusive
advisory lock on `warehouse.duckdb.lock` (fcntl.flock: it excludes other processes and other
threads alike, and the kernel drops it when a process dies). A run holds the turn while it
executes; any other connection takes it for as long as it is open. Whatever the executor and
however many runs overlap, pipeline code never meets DuckDB's lock: a run just waits for the runs
before it. A foreign process holding the file (a DuckDB shell left open) is waited out with
backoff; if it outlasts the timeout, the error names the holder.
"""

import fcntl
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pmm_pipeline.core.causes import corrupt_warehouse_error, disk_full_error, is_corrupt_duckdb
from pmm_pipeline.core.errors import CorruptWarehouseError
from pmm_pipeline.core.settings import DEFAULT_WAREHOUSE_MEMORY_LIMIT

LOCK_MESSAGES = ("could not set lock", "conflicting lock")
DEFAULT_TIMEOUT_S = 300.0
# DuckDB's file header and its two database headers come before the first block (duckdb 2.0).
DUCKDB_HEADER_BYTES = 3 * 4096

# Per thread: how many connections this thread holds on each warehouse file, so that a nested
# connection (a helper opening its own inside a step) does not wait for itself.
_held = threading.local()


class WarehouseBusyError(TimeoutError):
    """The warehouse stayed in use by someone else for longer than the timeout."""

    def __init__(self, path: Path, waited_s: float, holder: str):
        self.path, self.waited_s, self.holder = path, waited_s, holder
        super().__init__(
            f"the warehouse {path} stayed in use for {waited_s:.0f} s"
            f" (held by {holder or 'a process outside the pipeline'}); try again when it is free"
        )


def lock_path_of(path: Path | str) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".lock")


def _backoff(delay: float, cap: float) -> float:
    time.sleep(delay * (0.5 + random.random()))
    return min(delay * 1.5, cap)


@contextmanager
def warehouse_turn(
    path: Path | str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    holder: str = "",
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the warehouse's advisory lock (re-entrant within a thread) for the body of the block.

    `on_wait` is told who holds the lock when it is not free at once.
    """
    key = str(Path(path).resolve())
    depths: dict[str, int] = _held.__dict__.setdefault("depths", {})
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    lock_path = lock_path_of(path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    on_wait(_read_holder(fd) or "another process")
                    on_wait = None
                if time.monotonic() - started > timeout_s:
                    raise WarehouseBusyError(Path(path), time.monotonic() - started, _read_holder(fd)) from None
                delay = _backoff(delay, cap=0.1)
        # Who holds the warehouse, for the message of whoever times out waiting for it.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} {holder}".strip().encode(), 0)
        depths[key] = 1
        try:
            yield
        finally:
            depths.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode(errors="replace").strip()
    except OSError:
        return ""


@contextmanager
def open_warehouse(
    path: Path | str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    holder: str = "",
    memory_limit: str | None = DEFAULT_WAREHOUSE_MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect to the DuckDB file in the warehouse's turn; closed on every exit path.

    Every reader and writer of the pipeline goes through here (assets, `pmm run`'s summary, tests),
    so they take turns instead of meeting DuckDB's single-writer lock. `holder` says who is asking
    (e.g. a run id); it is shown to whoever has to wait too long. `memory_limit` is DuckDB's
    (Settings.warehouse_memory_limit; None: DuckDB's default, 80 % of the machine's memory).
    """
    config = {} if memory_limit is None else {"memory_limit": memory_limit}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with warehouse_turn(path, timeout_s, holder):
        delay = 0.05
        while True:
            try:
                conn = duckdb.connect(str(path), config=config)
                break
            except duckdb.IOException as err:
                if not any(m in str(err).lower() for m in LOCK_MESSAGES):
                    _raise_named(path, err)
                if time.monotonic() - started > timeout_s:
                    raise WarehouseBusyError(path, time.monotonic() - started, "") from err
                delay = _backoff(delay, cap=2.0)
            except duckdb.Error as err:
                _raise_named(path, err)
        try:
            with errors_named(path):
                yield conn
        finally:
            conn.close()


@contextmanager
def errors_named(path: Path | str) -> Iterator[None]:
    """DuckDB errors raised in the block that a retry cannot mend, as the error naming the warehouse."""
    try:
        yield
    except duckdb.Error as err:
        _raise_named(Path(path), err)


def _raise_named(path: Path, err: duckdb.Error):
    """Re-raise a DuckDB error that a retry cannot mend as the error naming the warehouse and what to do."""
    if is_corrupt_duckdb(err):
        raise corrupt_warehouse_error(path, err) from err
    full = disk_full_error(err, what=f"the warehouse {path}")
    if full is not None:
        raise full from err
    raise err


def verify_warehouse(path: Path | str, memory_limit: str | None = DEFAULT_WAREHOUSE_MEMORY_LIMIT) -> None:
    """Raise CorruptWarehouseError naming the file when the warehouse cannot be read; nothing if it is absent.

    Cheap, so every run can afford it before any step writes: DuckDB opens the file (header, catalog,
    write-ahead log), the file must be long enough for the blocks its header says are in use, and every
    table's row count is read (row-group metadata, not the data).
    """
    path = Path(path)
    if not path.exists():
        return  # the first run creates it
    if not path.is_file():
        raise CorruptWarehouseError(
            f"the warehouse {path} is not a file: move it aside so that the next run creates the warehouse"
        )
    with open_warehouse(path, holder="warehouse check", memory_limit=memory_limit) as conn:
        # Used blocks, not total: DuckDB may cut free blocks off the end of the file while still counting
        # them (seen under overlapping runs), so only a file too short for the blocks in use is truncated.
        block_size, used_blocks = conn.execute(
            "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchall()[0]
        expected = DUCKDB_HEADER_BYTES + int(block_size) * int(used_blocks)
        actual = path.stat().st_size
        if actual < expected:
            raise corrupt_warehouse_error(
                path, ValueError(f"truncated: {actual:,} bytes where its header counts {expected:,}")
            )
        tables = conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
        for schema, table in tables:
            conn.execute(f"SELECT count(*) FROM {_quoted(schema)}.{_quoted(table)}").fetchall()


def _quoted(identifier: str) -> str:
    # Identifiers read from the catalog, quoted as DuckDB does: never a value in SQL text.
    return '"' + identifier.replace('"', '""') + '"'
