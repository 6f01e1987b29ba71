"""The uploads and intake runs of the delivery tests: the cycle they deliver to, the times of delivery, a submission's
bytes, the cycle's intake as a Dagster run, and a query of the warehouse the intake wrote. Used by test_delivery.py,
test_delivery_concurrency.py (also inside its PROCESS_SCRIPT, a second process of uploads) and
pmm_pipeline_tests/portal/test_portal_pages.py.
"""

import datetime as dt
import json

import dagster as dg
import duckdb

from pmm_pipeline.core.settings import Settings

CYCLE = "2027"
T = 2026
OPEN_DAY = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # the 2027 collection runs 2026-12-01 to 2027-03-31


def at(hours: float) -> dt.datetime:
    return OPEN_DAY + dt.timedelta(hours=hours)


def submission(
    member: str, electronic: float, *, cycle: str = CYCLE, year: int = T, stated: str | None = None
) -> bytes:
    return json.dumps(
        {
            "format": "pmm-submission",
            "format_version": 1,
            "member": member,
            "cycle": cycle,
            "submitted_at": stated or "2026-12-01T08:00:00Z",
            "answers": [
                {"item": "declarations_total", "year": year, "value": 1000},
                {"item": "declarations_electronic", "year": year, "value": electronic},
                {"item": "aeo_count", "year": year - 1, "value": 40},
                {"item": "aeo_count", "year": year, "value": 50},
            ],
            "disclosure": {"electronic_declaration_rate": "public"},
        }
    ).encode()


def run_intake(settings: Settings, cycle: str = CYCLE):
    """The ingestion step of the cycle job, as a Dagster run of it (the landing sensor's run starts the same job)."""
    from pmm_pipeline.definitions import build_definitions
    from pmm_pipeline.defs.jobs import CYCLE_JOB

    job = build_definitions(settings).resolve_job_def(CYCLE_JOB)
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        partition_key=cycle, instance=instance, op_selection=["take_in_landing_files"], raise_on_error=False
    )
    assert result.success
    return [entry.user_message for entry in instance.all_logs(result.run_id)]


def query(settings: Settings, sql: str, params=()) -> list[dict]:
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        frame = conn.execute(sql, list(params)).df()
    return frame.to_dict("records")
