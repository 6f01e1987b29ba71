"""Failures an engineer meets in the UI: who holds the warehouse, a known cause failing at once with
its reason, and a failed run re-executed from the failed step after the fix."""

import shutil
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.orchestration.instance import ensure_dagster_home
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.warehouse.connection import WarehouseBusyError, open_warehouse
from pmm_pipeline.warehouse.tables import COMPLETENESS, OUTSTANDING_MEMBERS
from pmm_pipeline_tests.conftest import FIXTURES, settings_for

# A process that holds the warehouse until told to go (a line on its stdin).
HOLD_PIPELINE_TURN = """
import sys
from pmm_pipeline.orchestration.resources.warehouse import warehouse_turn
with warehouse_turn(sys.argv[1], holder="run 0a1b2c3d"):
    print("holding", flush=True)
    sys.stdin.readline()
"""
HOLD_DUCKDB_FILE = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
conn.close()
"""


def hold(script: str, path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.communicate("go\n", timeout=60)


@pytest.mark.cycle
@pytest.mark.subprocess
def test_a_step_waiting_too_long_for_the_warehouse_fails_naming_the_holder(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = hold(HOLD_PIPELINE_TURN, path)
    try:
        with pytest.raises(dg.Failure) as failure:
            with Warehouse(database=str(path), lock_timeout_s=0.5).get_connection():
                pass
    finally:
        release(holder)
    assert f"held by pid {holder.pid} " in failure.value.description
    assert "run 0a1b2c3d" in failure.value.description
    assert failure.value.allow_retries  # transient: the job's retry policy tries again
    assert {"warehouse", "held by", "waited (s)"} <= set(failure.value.metadata)
    with open_warehouse(path, timeout_s=5) as conn:  # free again once the holder has gone
        assert conn.execute("SELECT 1").fetchall() == [(1,)]


@pytest.mark.cycle
@pytest.mark.subprocess
def test_a_duckdb_shell_left_open_on_the_warehouse_is_waited_for_then_named(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = hold(HOLD_DUCKDB_FILE, path)
    try:
        with pytest.raises(WarehouseBusyError) as busy:
            with open_warehouse(path, timeout_s=0.5):
                pass
    finally:
        release(holder)
    assert "a process outside the pipeline" in str(busy.value) and str(path) in str(busy.value)


@pytest.mark.cycle
def test_a_known_cause_fails_at_once_with_its_reason(tmp_path):
    settings = settings_for(tmp_path / "data")
    job = build_definitions(settings).resolve_job_def("collection_job")
    result = job.execute_in_process(
        partition_key="2023",
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey(COMPLETENESS.key), dg.AssetKey(OUTSTANDING_MEMBERS.key)],  # no upstream steps
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data
    assert data.user_failure_data.description == (
        "cycle 2023: raw.submissions, raw.rejections, kpi.kpi_values, staging.participation not materialized"
        " for this cycle yet; materialize the upstream assets first (e.g. launch cycle_job for this partition)"
    )
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]


def cycle_job_from_env() -> dg.JobDefinition:
    """The cycle job as the run worker would load it, for re-execution (a reconstructable job)."""
    return build_definitions(Settings.from_env()).resolve_job_def("cycle_job")


def steps_started(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {e.dagster_event.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)}


@pytest.mark.cycle
def test_a_failed_run_is_re_executed_from_the_failed_step_after_the_fix(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / "2023")
    env = {"PMM_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ensure_dagster_home(env)
    warehouse = settings_for(data_dir).layout.warehouse_path
    # The cause: an object in the way of a staging table (say, a view an analyst created).
    with open_warehouse(warehouse) as conn:
        conn.execute("CREATE SCHEMA staging")
        conn.execute("CREATE VIEW staging.participation AS SELECT 1 AS placeholder")

    job = dg.reconstructable(cycle_job_from_env)
    # The cycle job's intake and staging steps keep the test short; the whole job behaves alike.
    with dg.DagsterInstance.get() as instance:
        keys = [
            key
            for key in build_definitions(Settings.from_env()).resolve_asset_graph().get_all_asset_keys()
            if key.path[0] in ("raw", "staging")
        ]
        with dg.execute_job(job, instance, tags={"dagster/partition": "2023"}, asset_selection=keys) as failed:
            assert not failed.success
            failed_run_id = failed.run_id
        failed_steps = {
            e.dagster_event.step_key for e in instance.all_logs(failed_run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        }
        assert failed_steps == {"stage_latest_versions"}
        retries = instance.all_logs(failed_run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)
        assert not retries  # an object in the way stays in the way: failed at once (issue 16), not retried
        [failure] = instance.all_logs(failed_run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        description = failure.dagster_event.step_failure_data.user_failure_data.description
        assert "Can only modify view" in description and "not retried" in description
        assert {"take_in_landing_files", "record_submission_history"} <= steps_started(instance, failed_run_id)

        with open_warehouse(warehouse) as conn:  # the fix
            conn.execute("DROP VIEW staging.participation")
        options = dg.ReexecutionOptions.from_failure(failed_run_id, instance)
        # The UI's "Re-execute from failure" copies the failed run's tags; execute_job takes them.
        partition = {"dagster/partition": instance.get_run_by_id(failed_run_id).tags["dagster/partition"]}
        with dg.execute_job(job, instance, tags=partition, reexecution_options=options) as rerun:
            assert rerun.success
            rerun_id = rerun.run_id
        assert steps_started(instance, rerun_id) == {"stage_latest_versions"}
        assert instance.get_run_by_id(rerun_id).tags["dagster/partition"] == "2023"
    with open_warehouse(warehouse) as conn:
        participating = conn.execute(
            "SELECT member_code FROM staging.participation WHERE is_participating ORDER BY 1"
        ).fetchall()
    assert [m for (m,) in participating] == ["DEU", "FRA", "KEN", "UGA"]  # fixtures/cycle_2023/expected.yaml
