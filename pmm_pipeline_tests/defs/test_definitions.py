"""The code location: it loads, every KPI spec is listed on kpi.kpi_values, and the asset graph changes only on purpose.

Every KPI is one view (`kpi.<kpi_id>`) created by the compute_kpis step, not an asset of its own: kpi.kpi_values'
definition lists them (`kpi_views`), checked by rule against the catalogue, so adding a KPI file changes no
snapshot. Regenerate the snapshot after an intended change of the graph with:
    .venv/bin/python -m pmm_pipeline_tests.defs.test_definitions
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.specs.catalogue.load import Catalogue, load_catalogue
from pmm_pipeline_tests.paths import CHECKOUT, SNAPSHOTS

SNAPSHOT = SNAPSHOTS / "asset_graph.json"
KPI_VALUES = "kpi/kpi_values"


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


def rest_of_graph(assets: dict, catalogue: Catalogue) -> dict:
    """The graph as the snapshot holds it: no node is a KPI's own (a new KPI file changes no node)."""
    assert not {f"kpi/{k}" for k in catalogue.kpis} & set(assets), "a KPI became an asset of its own"
    return assets


def current_snapshot(settings: Settings | None = None) -> dict:
    return graph_snapshot(build_definitions(settings or Settings.from_env({})))


def shipped_rest() -> dict:
    settings = Settings.from_env({})
    return rest_of_graph(current_snapshot(settings), load_catalogue(settings.specs_dir))


def check_kpi_views_by_rule(settings: Settings) -> None:
    """Every KPI of the catalogue is listed on kpi.kpi_values' definition with its view, formulas, items and
    spec file; no KPI is an asset of its own, and kpi.kpi_values is the kpi group's only asset."""
    catalogue = load_catalogue(settings.specs_dir)
    defs = build_definitions(settings)
    assets = graph_snapshot(defs)
    assert {k for k in assets if k.startswith("kpi/")} == {KPI_VALUES}
    listed = defs.resolve_asset_graph().get(dg.AssetKey(KPI_VALUES.split("/"))).metadata["kpi_views"].value
    assert sorted(listed) == sorted(catalogue.kpis)
    for kpi_id, spec in catalogue.kpis.items():
        entry = listed[kpi_id]
        assert entry["view"] == f"kpi.{kpi_id}"
        assert entry["items"] == sorted(i.code for i in spec.items)
        assert Path(entry["spec_file"]) == catalogue.files[kpi_id]
        assert entry["formulas"] == {s.id: s.formula for s in spec.series}
        assert entry["dimension"] == str(spec.dimension) and entry["status"] == spec.status


def test_code_location_loads(tmp_path):
    defs = build_definitions(Settings.from_env({"PMM_DATA_DIR": str(tmp_path)}))
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("cycle_job") is not None


def test_every_spec_is_listed_with_its_view():
    check_kpi_views_by_rule(Settings.from_env({}))


@pytest.fixture
def catalogue_with_a_new_kpi(tmp_path) -> Settings:
    """The shipped catalogue plus one KPI file on existing items, and nothing else changed."""
    specs = tmp_path / "kpi_specs"
    shutil.copytree(Settings.from_env({}).specs_dir, specs)
    text = (specs / "pca_effectiveness.yaml").read_text()
    (specs / "customs_revenue_per_staff.yaml").write_text(
        text.replace("id: pca_effectiveness", "id: customs_revenue_per_staff")
        .replace(
            "100 * pca_controls_with_findings[T] / pca_controls_total[T]", "customs_revenue_total[T] / staff_total[T]"
        )
        .replace("shape: ratio", "shape: value")
        .replace("[mean, median, min, max, pooled]", "[mean, median, min, max]")
    )
    return Settings.from_env({"PMM_KPI_SPECS_DIR": str(specs), "PMM_DATA_DIR": str(tmp_path / "data")})


def test_a_new_kpi_file_needs_no_snapshot_change(catalogue_with_a_new_kpi):
    settings = catalogue_with_a_new_kpi
    assert "customs_revenue_per_staff" in load_catalogue(settings.specs_dir).kpis
    check_kpi_views_by_rule(settings)
    assets = current_snapshot(settings)
    assert rest_of_graph(assets, load_catalogue(settings.specs_dir)) == json.loads(SNAPSHOT.read_text())


def test_asset_keys_are_schema_dot_table_and_group_is_the_layer():
    for key, node in current_snapshot().items():
        schema, _table = key.split("/")
        assert node["group"] == schema


def test_asset_graph_matches_snapshot():
    expected = json.loads(SNAPSHOT.read_text())
    assert shipped_rest() == expected, (
        "the asset graph changed; if intended, regenerate the snapshot:"
        " .venv/bin/python -m pmm_pipeline_tests.defs.test_definitions"
    )


@pytest.mark.subprocess
def test_dagster_cli_validates_the_workspace(tmp_path):
    env = {**os.environ, "PMM_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(shipped_rest(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
