"""Writing the declared tables (warehouse/writes.py)."""

import datetime as dt

import duckdb
import pandas as pd

from pmm_pipeline.warehouse.tables import published_tables
from pmm_pipeline.warehouse.writes import append_rows

RELEASES = published_tables("public")[2]


def _release(run_id: str, manifest: str) -> pd.DataFrame:
    row = {c: None for c in RELEASES.column_names} | {
        "cycle": "2023",
        "run_id": run_id,
        "released_at": dt.datetime(2025, 1, 15, tzinfo=dt.UTC),
        "manifest_sha256": manifest,
    }
    return pd.DataFrame([row], columns=RELEASES.column_names)


def test_a_release_logged_again_by_a_retried_step_replaces_its_row(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        append_rows(conn, RELEASES, _release("run-1", "a"))
        append_rows(conn, RELEASES, _release("run-1", "b"))  # the same run's step, retried
        append_rows(conn, RELEASES, _release("run-2", "c"))
        rows = conn.execute(f"SELECT run_id, manifest_sha256 FROM {RELEASES.qualified} ORDER BY ALL").fetchall()
    assert rows == [("run-1", "b"), ("run-2", "c")]
