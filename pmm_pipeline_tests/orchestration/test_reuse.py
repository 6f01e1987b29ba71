"""A re-run reuses the unchanged results and redoes exactly the changed ones (orchestration/reuse.py).

One copy of the session's cycle 2023 is run again scenario after scenario, each starting from the state the one
before left: nothing changed; published files altered and removed; one member's corrected file (a value and a
disclosure choice); the minimum group size; the code version and the catalogue digest. Each run's decisions are
read from the materializations' metadata, as an auditor reads them in the Dagster UI.
"""

import hashlib
from dataclasses import replace

import dagster as dg
import pytest
import yaml

from pmm_pipeline.core.reuse import read_record
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.defs import feedback, publishing, quality
from pmm_pipeline.defs.jobs import CYCLE_JOB
from pmm_pipeline.orchestration import reuse
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.reuse import RELEASE_TIER_BY_KEY, TABLES_BY_KEY, record_path
from pmm_pipeline.stages.ingestion import read_cache
from pmm_pipeline.stages.publishing import tier_release
from pmm_pipeline_tests.conftest import run_cycle_in_process

# FRA's second version: a lower value and a later date (test_release_reproducible's, declared there once).
from pmm_pipeline_tests.released_workspace import FRA_V2 as FRA_CORRECTED

pytestmark = pytest.mark.cycle

TIERS = ("public", "wco", "secretariat")
RELEASES = {f"publish_{t}__releases" for t in TIERS}
TABLES = {f"publish_{t}_tables" for t in TIERS}
DISCLOSURE = {"disclosure__withheld", *TABLES, *RELEASES, "published__profiles", "published__series"}
EVERY_STEP = {"check_and_admit_answers", "feedback__member_reports", *DISCLOSURE}


def decisions(result) -> dict[str, tuple[str, list[str], str]]:
    """Per step: reused or computed, the inputs it found changed, and why (from every materialization)."""
    found: dict[str, tuple[str, list[str], str]] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        metadata = event.event_specific_data.materialization.metadata
        if "reuse" in metadata:
            decision = (metadata["reuse"].value, metadata["reuse_inputs_changed"].value, metadata["reuse_why"].value)
            assert found.setdefault(event.step_key, decision) == decision  # a step's assets agree
    return found


def computed(result) -> set[str]:
    return {step for step, (what, _, _) in decisions(result).items() if what == "computed"}


def intake_reads(result) -> tuple[dict, int, int]:
    """The intake's reads (reused and made, from its metadata) and the versions it accepted and rejected."""
    materializations = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.step_key == "take_in_landing_files"
    ]
    intake = {m.asset_key.to_user_string(): m.metadata for m in materializations}
    assert len(intake) == len(materializations)  # one materialization of each raw table
    return (
        intake["raw/received_files"]["reads_reused"].value,
        intake["raw/submissions"]["dagster/row_count"].value,
        intake["raw/rejections"]["dagster/row_count"].value,
    )


def published_bytes(settings: Settings) -> dict[str, str]:
    root = settings.data_dir / "published"
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def scenarios(fixture_cycle, tmp_path_factory):
    """Every scenario run in turn on one copy of the session's cycle: {name: (result, published before, after)}."""
    import shutil

    settings, _ = fixture_cycle
    root = tmp_path_factory.mktemp("reuse")
    shutil.copytree(settings.data_dir, root / "data")
    # Reopened, so that a corrected file arriving today is taken in; a reopening is not an input of any result.
    cycles = yaml.safe_load(settings.cycles_file.read_text())
    next(c for c in cycles["cycles"] if c["id"] == "2023")["reopened_until"] = "2099-12-31"
    (root / "cycles.yaml").write_text(yaml.safe_dump(cycles))
    settings = replace(settings, data_dir=root / "data", cycles_file=root / "cycles.yaml")
    runs = {}

    def run(name: str, settings: Settings = settings) -> None:
        before = published_bytes(settings)
        result = run_cycle_in_process(settings, "2023")
        assert result.success, name
        runs[name] = (result, before, published_bytes(settings))

    # The copy's feedback table names report files by their absolute path, which moved with the copy: its first
    # run makes them again; from then on the copy is a workspace like any other.
    run("settle")
    run("no change")
    secretariat_csv = settings.data_dir / "published" / "2023" / "secretariat" / "kpi_values.csv"
    runs["original secretariat csv"] = secretariat_csv.read_bytes()
    secretariat_csv.write_bytes(secretariat_csv.read_bytes() + b"tampered\r\n")
    next((settings.data_dir / "published" / "2023" / "profiles").glob("*/profile_en.html")).unlink()
    run("published files altered")
    runs["secretariat csv made again"] = secretariat_csv.read_bytes()
    (settings.data_dir / "landing" / "2023" / "FRA_v2.json").write_text(FRA_CORRECTED)
    run("corrected file")
    bigger_groups = replace(settings, min_group_size=settings.min_group_size + 1)
    run("min group size", bigger_groups)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reuse, "code_version", lambda: "9.9.9+another-commit")
        patch.setattr(read_cache, "code_version", lambda: "9.9.9+another-commit")
        # Every module that takes the catalogue's digest: the steps' keys and the releases' manifests.
        for module in (publishing, tier_release, quality, feedback):
            patch.setattr(module, "catalogue_digest", lambda catalogue: "another catalogue")
        run("code version and catalogue digest", bigger_groups)
    runs["settings"] = bigger_groups
    return runs


def test_a_rerun_with_nothing_changed_reuses_every_expensive_step_and_leaves_the_published_files_as_they_were(
    scenarios,
):
    result, before, after = scenarios["no change"]
    assert set(decisions(result)) == EVERY_STEP
    assert computed(result) == set()
    assert after == before
    # Why, in the metadata an auditor reads: the same inputs as the run whose result is reused.
    for what, changed, why in decisions(result).values():
        assert what == "reused" and changed == [] and why.startswith("same ") and "outputs intact" in why
    # The intake parsed no accepted version again; each rejected one was read again (its reasons are today's).
    reads, accepted, rejected = intake_reads(result)
    assert accepted > 0 and rejected > 0
    assert (reads["reused"], reads["read"]) == (accepted, rejected)


def test_the_intake_reads_again_only_the_new_file_or_everything_under_another_code_version(scenarios):
    reads, accepted, rejected = intake_reads(scenarios["corrected file"][0])
    assert (reads["reused"], reads["read"]) == (accepted - 1, rejected + 1)  # FRA_v2.json, accepted
    reads, _, _ = intake_reads(scenarios["code version and catalogue digest"][0])
    assert reads["reused"] == 0


def test_an_altered_or_removed_published_file_is_made_again_and_nothing_else(scenarios):
    result, _, after = scenarios["published files altered"]
    # The secretariat release is made again (its bytes are back), the series it feeds, and the profiles; the
    # lower tiers' releases, disclosure and the gate are reused.
    assert computed(result) == {"publish_secretariat__releases", "published__profiles", "published__series"}
    steps = decisions(result)
    assert "outputs altered" in steps["publish_secretariat__releases"][2]
    assert "outputs altered" in steps["published__profiles"][2]
    assert steps["published__series"][1] == ["folder:published/2023/secretariat"]
    assert scenarios["secretariat csv made again"] == scenarios["original secretariat csv"]
    assert all(name in after for name in scenarios["no change"][2] if name.startswith("2023/profiles/"))


def test_one_members_corrected_file_redoes_every_step_that_reads_its_answers_and_choices(scenarios):
    result, before, after = scenarios["corrected file"]
    steps = decisions(result)
    assert computed(result) == EVERY_STEP
    assert "table:staging.answers" in steps["check_and_admit_answers"][1]
    assert "table:kpi.kpi_values" in steps["disclosure__withheld"][1]  # its value and its disclosure choice
    assert after["2023/public/kpi_values.csv"] != before["2023/public/kpi_values.csv"]


def test_a_disclosure_setting_redoes_disclosure_and_what_it_publishes_not_the_gate(scenarios):
    result, _, _ = scenarios["min group size"]
    steps = decisions(result)
    assert computed(result) == DISCLOSURE
    assert steps["disclosure__withheld"][1] == ["setting:min_group_size"]
    assert steps["check_and_admit_answers"][0] == steps["feedback__member_reports"][0] == "reused"


def test_another_code_version_and_catalogue_digest_redo_everything_and_say_so(scenarios):
    result, _, _ = scenarios["code version and catalogue digest"]
    assert computed(result) == EVERY_STEP
    steps = decisions(result)
    assert all("code_version" in changed for _, changed, _ in steps.values())
    # The series reads released folders only (their manifests name the catalogue); every other step reads it.
    assert all("catalogue_digest" in changed for step, (_, changed, _) in steps.items() if step != "published__series")


def test_every_key_covers_every_table_and_release_its_step_depends_on(scenarios):
    """The key is derived from the step's dependencies, which test_sql_reads.py proves equal to what it reads."""
    settings = scenarios["settings"]
    storage = PmmStorage.from_limits(str(settings.data_dir), settings.intake_limits)
    defs = build_definitions(settings)
    job, graph = defs.resolve_job_def(CYCLE_JOB), defs.resolve_asset_graph()
    for step in EVERY_STEP:
        keys = {k for k in job.asset_layer.executable_asset_keys if _step_of(job, k) == step}
        deps = {d for k in keys for d in graph.get(k).parent_keys} - keys
        expected = {f"table:{TABLES_BY_KEY[d].qualified}" for d in deps if d in TABLES_BY_KEY}
        expected |= {f"folder:published/2023/{RELEASE_TIER_BY_KEY[d]}" for d in deps if d in RELEASE_TIER_BY_KEY}
        record = read_record(record_path(storage, "2023", step))
        assert record is not None, step
        assert expected <= set(record.inputs), (step, expected - set(record.inputs))
        assert {"code_version", "code_digest", "duckdb_version"} <= set(record.inputs), step


def _step_of(job: dg.JobDefinition, key: dg.AssetKey) -> str:
    return job.asset_layer.get_op_output_handle(key).node_handle.name
