"""The local Dagster instance written by `pmm run` and `make dev`: telemetry off, one warehouse run at a time."""

import dagster as dg
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
