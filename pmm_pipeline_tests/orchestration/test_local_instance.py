"""The local Dagster instance written by `pmm run` and `make dev`: telemetry off, one warehouse run at a time."""

import os

import dagster as dg
import pytest
import yaml

from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL, ensure_dagster_home


def test_a_new_instance_has_telemetry_off_and_the_warehouse_pool_limited_before_any_daemon_pass(tmp_path):
    env = {"DAGSTER_HOME": str(tmp_path / "home")}
    home = ensure_dagster_home(env)

    assert env["DAGSTER_DISABLE_TELEMETRY"] == "1"
    settings = yaml.safe_load((home / "dagster.yaml").read_text())
    assert settings["telemetry"] == {"enabled": False}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # Stored, not only configured: the daemon's first pass over the queue already sees limit 1.
        assert [(p.name, p.limit) for p in instance.event_log_storage.get_pool_limits()] == [(WAREHOUSE_POOL, 1)]


def test_a_limit_edited_in_dagster_yaml_is_the_one_stored(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    granularity: run\n    default_limit: 2\n"
    )
    ensure_dagster_home({"DAGSTER_HOME": str(home)})
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 2


@pytest.mark.subprocess
def test_runs_of_dead_pmm_run_processes_are_failed_and_living_or_foreign_ones_left(tmp_path):
    import socket
    import subprocess
    import sys

    from pmm_pipeline.app.run import fail_abandoned_runs
    from pmm_pipeline.orchestration.tags import PROCESS_TAG

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = socket.gethostname()
    runs = {
        "killed": (dg.DagsterRunStatus.STARTED, f"{host}:{dead_pid}"),
        "killed_while_starting": (dg.DagsterRunStatus.STARTING, f"{host}:{dead_pid}"),
        "alive": (dg.DagsterRunStatus.STARTED, f"{host}:{os.getpid()}"),
        "other_host": (dg.DagsterRunStatus.STARTED, f"not-{host}:{dead_pid}"),
        "launched_by_daemon": (dg.DagsterRunStatus.STARTED, None),
        "finished": (dg.DagsterRunStatus.SUCCESS, f"{host}:{dead_pid}"),
        "re_execution": (dg.DagsterRunStatus.STARTED, f"{host}:{dead_pid}"),  # tags copied from its parent
    }
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        for run_id, (status, process) in runs.items():
            tags = {PROCESS_TAG: process} if process else {}
            if run_id == "re_execution":
                tags |= {"dagster/parent_run_id": "killed", "dagster/root_run_id": "killed"}
            instance.add_run(dg.DagsterRun(job_name="cycle_job", run_id=run_id, status=status, tags=tags))

        assert sorted(fail_abandoned_runs(instance)) == ["killed", "killed_while_starting"]

        statuses = {run_id: instance.get_run_by_id(run_id).status for run_id in runs}
        assert statuses == {
            "killed": dg.DagsterRunStatus.FAILURE,
            "killed_while_starting": dg.DagsterRunStatus.FAILURE,
            "alive": dg.DagsterRunStatus.STARTED,
            "other_host": dg.DagsterRunStatus.STARTED,
            "launched_by_daemon": dg.DagsterRunStatus.STARTED,
            "finished": dg.DagsterRunStatus.SUCCESS,
            "re_execution": dg.DagsterRunStatus.STARTED,
        }
        messages = [e.message for e in instance.all_logs("killed")]
        assert any(f"process {dead_pid} on {host} ended before the run did" in m for m in messages)


def test_a_limit_an_operator_stored_is_kept(tmp_path):
    home = tmp_path / "home"
    ensure_dagster_home({"DAGSTER_HOME": str(home)})
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 3)  # `dagster instance concurrency set`
    (home / ".pools_initialized").unlink()  # as an instance met for the first time by this version

    ensure_dagster_home({"DAGSTER_HOME": str(home)})

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 3
