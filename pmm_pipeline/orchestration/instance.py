"""The local Dagster instance shared by `pmm run` and `make dev`: one DAGSTER_HOME, telemetry off, one warehouse run."""

import fcntl
import os
from pathlib import Path

from pmm_pipeline.core.settings import CHECKOUT_DIR

# The pool of every step that opens the DuckDB warehouse.
WAREHOUSE_POOL = "warehouse"

# No machine here reaches the internet: Dagster must never try to upload telemetry (nor greet the
# UI's first visitor with a newsletter sign-up).
# Every step that opens the warehouse carries pool=WAREHOUSE_POOL. With a limit of 1 at run granularity,
# runs launched through the instance's queue (UI, schedules, sensors, backfills) wait in the queue
# while another warehouse run is in progress, shown as "blocked by pool warehouse" in the UI; run
# granularity because a step-level wait polls with backoff of up to 15 s, idling the warehouse.
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
