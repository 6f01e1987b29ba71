"""The DuckDB warehouse resource: short connections that always close and wait out another writer."""

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

LOCK_MESSAGES = ("could not set lock", "conflicting lock")


@contextmanager
def open_warehouse(path: Path | str, timeout_s: float = 300.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect to the DuckDB file, retrying while another process holds its lock.

    DuckDB allows one writing process per file; every pipeline connection is short, so a writer
    that finds the file locked waits with jittered backoff instead of failing. The connection is
    closed on every exit path, or the lock would outlive the step that took it.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            conn = duckdb.connect(str(path))
            break
        except duckdb.IOException as err:
            if not any(m in str(err).lower() for m in LOCK_MESSAGES) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)
    try:
        yield conn
    finally:
        conn.close()


class Warehouse(DuckDBResource):
    """DuckDB warehouse; `database` is the file path. Overrides `get_connection` to always close."""

    lock_timeout_s: float = Field(default=300.0, description="how long to wait for another writer")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.database, self.lock_timeout_s) as conn:
            yield conn
