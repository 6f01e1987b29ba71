"""The asset graph as documentation: what the UI shows for every asset, check, job and schedule."""

from pathlib import Path

import dagster as dg
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.orchestration.table_assets import OWNER
from pmm_pipeline_tests.paths import CHECKOUT

PACKAGE = CHECKOUT / "pmm_pipeline"


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(Settings.from_env({"PMM_DATA_DIR": str(tmp_path_factory.mktemp("data"))}))


@pytest.fixture(scope="module")
def graph(defs):
    return defs.resolve_asset_graph()


def test_every_asset_is_described_owned_kinded_grouped_and_tagged(graph):
    undocumented = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        gaps = [
            gap
            for gap, missing in [
                ("description", not (node.description or "").strip()),
                ("owner", OWNER not in node.owners),
                ("kind", not node.kinds),
                ("group = schema", node.group_name != key.path[0]),
                ("layer tag", node.tags.get("layer") != node.group_name),
            ]
            if missing
        ]
        if gaps:
            undocumented[key.to_user_string()] = gaps
    assert undocumented == {}


def test_every_asset_links_to_the_code_that_computes_it(graph):
    for key in graph.get_all_asset_keys():
        references = graph.get(key).metadata["dagster/code_references"].code_references
        assert references, key
        for reference in references:
            path = Path(reference.file_path)
            assert path.is_relative_to(PACKAGE) and path.exists() and reference.line_number > 0, (key, reference)


def test_asset_checks_are_shown_on_their_asset(graph):
    checks = graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["collection", "completeness"]), "members_add_up") in checks
    for check in checks:
        assert check in graph.get(check.asset_key).check_keys


def test_jobs_and_schedules_say_what_they_do(defs):
    for job in ("cycle_job", "collection_job", "questionnaires_job"):
        assert len(defs.resolve_job_def(job).description) > 40
    schedules = defs.get_repository_def().schedule_defs
    assert len(schedules) == 4
    for schedule in schedules:
        assert "cycles configuration" in schedule.description
