"""The code location: it loads, every KPI spec yields its asset, and the asset graph changes only on purpose.

Regenerate the snapshot after an intended graph change with:
    .venv/bin/python -m pmm_pipeline_tests.test_definitions
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pmm_pipeline.catalogue.load import load_catalogue
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
CHECKOUT = Path(__file__).resolve().parents[1]


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return assets


def current_snapshot() -> dict:
    return graph_snapshot(build_definitions(Settings.from_env({})))


def test_code_location_loads(tmp_path):
    defs = build_definitions(Settings.from_env({"PMM_DATA_DIR": str(tmp_path)}))
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("cycle_job") is not None


def test_every_spec_yields_its_asset():
    settings = Settings.from_env({})
    catalogue = load_catalogue(settings.specs_dir)
    assets = current_snapshot()
    for kpi_id in catalogue.kpis:
        assert assets[f"kpi/{kpi_id}"]["group"] == "kpi"
        assert "kpi/kpi_values" in assets[f"kpi/{kpi_id}"]["deps"]


def test_asset_keys_are_schema_dot_table_and_group_is_the_layer():
    for key, node in current_snapshot().items():
        schema, _table = key.split("/")
        assert node["group"] == schema


def test_asset_graph_matches_snapshot():
    expected = json.loads(SNAPSHOT.read_text())
    assert current_snapshot() == expected, (
        "the asset graph changed; if intended, regenerate the snapshot: .venv/bin/python -m pmm_pipeline_tests.test_definitions"
    )


def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "PMM_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(current_snapshot(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
