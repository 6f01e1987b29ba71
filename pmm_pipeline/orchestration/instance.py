"""The local Dagster instance shared by `pmm run` and `make dev`: one DAGSTER_HOME, telemetry off, one warehouse run."""

import fcntl
import gc
import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from pmm_pipeline.core.settings import CHECKOUT_DIR

# The pool of every step that opens the DuckDB warehouse.
WAREHOUSE_POOL = "warehouse"

# No machine here reaches the internet: Dagster must never try to upload telemetry (nor greet the
# UI's first visitor with a newsletter sign-up).
# Every step that opens the warehouse carries pool=WAREHOUSE_POOL (set by rule in orchestration/policies.py).
# With a limit of 1 at run granularity, runs launched through the instance's queue (UI, schedules, sensors,
# backfills) wait in the queue while another warehouse run is in progress, shown as "blocked by pool warehouse"
# in the UI; run granularity because a step-level wait polls with backoff of up to 15 s, idling the warehouse.
# Runs executed in process (`pmm run`, tests) skip the queue: the warehouse resource makes them
# take turns (orchestration/resources/warehouse.py), so nothing can collide either way. A run whose process died
# is retried from the failed step; a failed step is retried by its job's retry policy when a retry
# can help. A run that failed for a cause no retry can fix (a full disk, a corrupt warehouse) is
# tagged dagster/max_retries=0 where it fails (orchestration/failures.py), so run retries skip it.
INSTANCE_SETTINGS = """\
# Written by pmm_pipeline when missing; edit freely (see docs/operators.md, "Concurrency").
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  pools:
    granularity: run
    default_limit: 1
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""

# Files written by earlier versions, replaced when found unchanged.
EARLIER_INSTANCE_SETTINGS = (
    """\
# Written by pmm_pipeline when missing; edit freely (see docs/operators.md, "Dagster instance").
telemetry:
  enabled: false
""",
)


def ensure_dagster_home(env: dict[str, str] | None = None) -> Path:
    """Set DAGSTER_HOME (default `.dagster_home/` in the checkout) and write its dagster.yaml if missing."""
    env = os.environ if env is None else env
    home = Path(env.get("DAGSTER_HOME") or CHECKOUT_DIR / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists() or settings.read_text() in EARLIER_INSTANCE_SETTINGS:
        settings.write_text(INSTANCE_SETTINGS)
    env["DAGSTER_HOME"] = str(home)
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    _create_storage_once(home)
    return home


def _create_storage_once(home: Path) -> None:
    """Create the instance's databases and the warehouse pool's limit, one process at a time: `pmm run`s
    started together on a new DAGSTER_HOME would otherwise race through the same schema migrations."""
    marker = home / ".pools_initialized"
    if marker.exists():
        return
    import dagster as dg

    with open(home / ".create.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            # Dagster 1.13 applies `default_limit` to a pool only once the daemon has seen it, so its
            # first pass over a new instance's queue would start every queued warehouse run at once.
            # Writing the limit now (from dagster.yaml's default_limit) closes that first-pass gap; a
            # limit already stored (set by an operator, or in a shared PostgreSQL instance) is left alone.
            storage = instance.event_log_storage
            if WAREHOUSE_POOL not in {pool.name for pool in storage.get_pool_limits()}:
                storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
        marker.touch()


# Python's cyclic garbage collector walks every tracked object at each full collection: after the imports
# (Dagster, pandas, DuckDB, the definitions) that is hundreds of thousands of objects that live as long as the
# process, walked a dozen times per run (~3 s). Frozen, they are left out of every later collection. The
# collector's thresholds stay Python's: raised to (50_000, 20, 20) they saved no CPU time measurable on the
# cycle and raised its peak memory by about 28 MiB (cyclic garbage holding frames lived longer).


def prepare_run_process() -> None:
    """Pay a run process's fixed costs once: after the imports, the garbage collector is kept off the imported
    objects, and the instance's SQLite databases commit without a sync to disk per event (see below).

    Called by `pmm run` and by the code location's entry point (a run worker launched from the UI, the
    daemon's or a code server's process), never by build_definitions (tests build definitions many times).
    """
    gc.collect()  # garbage made by the imports is freed, not frozen
    gc.freeze()
    _sync_sqlite_like_wal_allows()


_sqlite_listener_installed = False

# Databases in WAL mode that this process keeps one idle connection to, the most recently used last.
ANCHORED_DATABASES = 16
_anchors: "OrderedDict[str, sqlite3.Connection]" = OrderedDict()
_anchors_lock = threading.Lock()
_inherited_anchors: list[sqlite3.Connection] = []


def _sync_sqlite_like_wal_allows() -> None:
    """`PRAGMA synchronous=NORMAL` on every SQLite connection whose database is in WAL mode, and an idle
    connection kept open to each such database.

    Dagster's SQLite storage puts each database in WAL mode when it creates it, opens a new connection for
    each event it stores (one per run shard, another for the index shard of asset and check events) and keeps
    SQLite's default, synchronous=FULL: a sync of the write-ahead log at every commit, hundreds per run,
    seconds when the disk is busy. It has no setting for this. In WAL mode NORMAL syncs at checkpoints only:
    the database cannot be corrupted by a crash or a power loss; at worst the last events before a power loss
    are missing (an application crash loses nothing). A database not in WAL mode keeps FULL, where NORMAL
    could corrupt it on a power loss. Consolidating the event log into one file is left alone: Dagster's
    ConsolidatedSqliteEventLogStorage is for tests only.

    Even so, each connection Dagster closes is the last one open to its database, and when the last
    connection to a WAL database closes SQLite checkpoints the log into the database, syncs it and deletes
    the log; the next connection creates and syncs a new one. That cost about 10 ms per stored event on this
    machine's disk (0.5 ms with another connection open), about 7 s of a cycle's run. So this process keeps
    one idle connection to each WAL database it uses (`_anchor`): a close is then only a close, and the log
    is checkpointed as it grows (SQLite's automatic checkpoint, every 1,000 pages) and when the process ends.
    """
    global _sqlite_listener_installed
    if _sqlite_listener_installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _normal_sync_under_wal(dbapi_connection, _record) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() == "wal":
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
            _anchor(dbapi_connection)

    os.register_at_fork(after_in_child=_forget_anchors_in_child)
    _sqlite_listener_installed = True


def _anchor(connection: sqlite3.Connection) -> None:
    """Keep one idle connection open to `connection`'s database file (none for an in-memory database).

    The idle connection never begins a transaction, so it holds no lock: other connections and processes
    read, write and checkpoint as before. At most ANCHORED_DATABASES are kept (a webserver reads many runs'
    databases); letting one go is an ordinary close, with its checkpoint.
    """
    path = next((file for _, name, file in connection.execute("PRAGMA database_list") if name == "main"), "")
    if not path:
        return
    with _anchors_lock:
        if path in _anchors:
            _anchors.move_to_end(path)
            return
        idle = sqlite3.connect(path, check_same_thread=False)
        idle.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the log and its shared index
        _anchors[path] = idle
        while len(_anchors) > ANCHORED_DATABASES:
            _anchors.popitem(last=False)[1].close()


def _forget_anchors_in_child() -> None:
    """A forked child must not use or close its parent's SQLite connections (SQLite's rule): it keeps them
    referenced, so that they are never closed, and opens its own."""
    global _anchors_lock
    _inherited_anchors.extend(_anchors.values())
    _anchors.clear()
    _anchors_lock = threading.Lock()
