"""The three tiers through Dagster, on the hand-made cycle 2023 fixture: contents worked out by hand, checks, guard.

Fixture facts used below (fixtures/cycle_2023, pmm_pipeline/specs/reference/members.csv):
KEN (ESA, lower_middle, not landlocked, revenue_authority), UGA (ESA, low, landlocked,
revenue_authority), FRA and DEU (EUR, high, not landlocked, customs).
electronic_declaration_rate: KEN 95 public, FRA 100 public, DEU 75 wco, UGA undefined (secretariat).
single_window_implementation, all secretariat: KEN and FRA fully, UGA partially, DEU not implemented.
"""

import json

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pmm_pipeline.app.run import summarize_cycle
from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline.stages.publishing.release import sha256_file
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for, slow_fixture

CHECKS = ("shows_only_values_its_readers_may_see", "reveals_no_hidden_value")


def query(settings, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql).df()


def published(settings, tier: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(settings.layout.published_dir("2023") / tier / f"{name}.parquet")


def row(rollups: pd.DataFrame, kpi: str, series: str, group_type: str, group_code: str) -> dict:
    match = rollups[
        (rollups.kpi_id == kpi)
        & (rollups.series == series)
        & (rollups.group_type == group_type)
        & (rollups.group_code == group_code)
    ]
    assert len(match) == 1
    return match.iloc[0].to_dict()


def test_run_succeeds_with_every_disclosure_check_passing(fixture_cycle):
    _, result = fixture_cycle
    assert result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    for tier in TIERS:
        assert evaluations[(f"publish_{tier}/kpi_values", CHECKS[0])] is True
        assert evaluations[(f"publish_{tier}/rollups", CHECKS[1])] is True


def test_member_values_appear_only_where_their_choice_allows(fixture_cycle):
    settings, _ = fixture_cycle
    kpi = "kpi_id == 'electronic_declaration_rate'"
    members = {tier: sorted(published(settings, tier, "kpi_values").query(kpi).member_code) for tier in TIERS}
    assert members == {
        "public": ["FRA", "KEN"],
        "wco": ["DEU", "FRA", "KEN"],
        "secretariat": ["DEU", "FRA", "KEN", "UGA"],
    }
    # No choice at all for single_window_implementation: secretariat only.
    assert not published(settings, "wco", "kpi_values").query("kpi_id == 'single_window_implementation'").size


def test_public_rollups_of_a_group_with_one_hidden_member(fixture_cycle):
    settings, _ = fixture_cycle
    public, wco = published(settings, "public", "rollups"), published(settings, "wco", "rollups")
    # Global = KEN 95, FRA 100, DEU 75 (DEU hidden from the public): the mean and pooled ratio would
    # give DEU's value, the min is DEU's; the median is KEN's, the max FRA's.
    for group in (("global", "all"), ("landlocked", "not_landlocked")):  # the same three members
        g = row(public, "electronic_declaration_rate", "total", *group)
        assert (g["n_reporting"], g["n_participating"], g["median"], g["max"]) == (
            3,
            4 if group[0] == "global" else 3,
            95.0,
            100.0,
        )
        assert pd.isna(g["mean"]) and pd.isna(g["min"]) and pd.isna(g["pooled"]) and g["suppressed"]
        assert g["suppression_reason"] == "mean:differencing;min:hidden_member;pooled:differencing"
        w = row(wco, "electronic_declaration_rate", "total", *group)
        assert (w["mean"], w["median"], w["min"], w["max"], w["pooled"], w["suppressed"]) == (
            90.0,
            95.0,
            75.0,
            100.0,
            85.0,
            False,
        )
    eur = row(public, "electronic_declaration_rate", "total", "region", "EUR")  # FRA and DEU only
    assert eur["n_reporting"] == 2 and pd.isna(eur["mean"]) and pd.isna(eur["max"])
    assert eur["suppression_reason"] == ";".join(
        f"{s}:min_group_size" for s in ("mean", "median", "min", "max", "pooled")
    )


def test_categorical_counts_of_the_fixture(fixture_cycle):
    settings, _ = fixture_cycle
    for tier in ("public", "wco"):
        rollups = published(settings, tier, "rollups")
        # Global: 2 fully, 1 partially, 1 not implemented, all four hidden: no one (not even one of
        # them) can tell another's level.
        counts = {
            lv: row(rollups, "single_window_implementation", lv, "global", "all")["n_reporting"]
            for lv in ("fully_implemented", "partially_implemented", "not_implemented")
        }
        assert counts == {"fully_implemented": 2, "partially_implemented": 1, "not_implemented": 1}
        # Not landlocked = KEN, FRA (fully) and DEU (not implemented): DEU would learn the other two.
        coastal = row(rollups, "single_window_implementation", "fully_implemented", "landlocked", "not_landlocked")
        assert pd.isna(coastal["n_reporting"]) and pd.isna(coastal["mean"])
        assert coastal["suppression_reason"] == "level_counts:differencing"


def test_each_tier_folder_is_self_contained(fixture_cycle):
    settings, result = fixture_cycle
    for tier in TIERS:
        tier_dir = settings.layout.published_dir("2023") / tier
        manifest = json.loads((tier_dir / "manifest.json").read_text())
        assert manifest["tier"] == tier and manifest["run_id"] == result.run_id
        names = sorted(p.name for p in tier_dir.iterdir())
        assert names == [
            "changes.json",
            "kpi_values.csv",
            "kpi_values.json",
            "kpi_values.parquet",
            "kpi_values.sdmx.csv",
            "manifest.json",
            "report_en.html",
            "report_es.html",
            "report_fr.html",
            "rollups.csv",
            "rollups.json",
            "rollups.parquet",
            "rollups.sdmx.csv",
            "structure.xml",
            "tables_en.xlsx",
            "tables_es.xlsx",
            "tables_fr.xlsx",
        ]
        for name, entry in manifest["files"].items():
            assert sha256_file(tier_dir / name) == entry["sha256"]
        releases = query(settings, f"SELECT * FROM publish_{tier}.releases WHERE cycle = '2023'")
        assert len(releases) >= 1 and releases.path.iloc[-1] == str(tier_dir)


def test_run_summary_reports_what_was_withheld_per_tier(fixture_cycle):
    settings, _ = fixture_cycle
    summary = summarize_cycle(settings, "2023")
    withheld = query(settings, "SELECT tier, reason, count(*) AS n FROM disclosure.withheld GROUP BY ALL")
    for tier in TIERS:
        line = summary[f"disclosure control, {tier} tier"]
        mine = withheld[withheld.tier == tier]
        assert line.startswith(f"{int(mine.n.sum())} statistics withheld (")
        for reason, n in zip(mine.reason, mine.n, strict=True):
            assert f"{reason} {n}" in line
        assert "regional means published:" in line


def test_release_guard_refuses_when_a_lower_tier_file_shows_a_hidden_value(fixture_cycle_copy):
    """A blocking check stops only its own run: the release step audits the files themselves."""
    from pmm_pipeline.definitions import build_definitions
    from pmm_pipeline.defs.jobs import CYCLE_JOB

    settings, _ = fixture_cycle_copy
    public_csv = settings.layout.published_dir("2023") / "public" / "kpi_values.csv"
    wco_dir = settings.layout.published_dir("2023") / "wco"
    original = public_csv.read_bytes()
    wco_before = {p.name: p.read_bytes() for p in wco_dir.iterdir()}
    # Someone adds UGA's (secretariat) row to the public file after its release.
    leaked = "2023,2022,UGA,electronic_declaration_rate,total,,undefined,secretariat,\n"
    public_csv.write_text(original.decode() + leaked)  # in a copy of the shared run: nothing to restore
    job = build_definitions(settings).resolve_job_def(CYCLE_JOB)
    result = job.execute_in_process(
        partition_key="2023",
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        asset_selection=[dg.AssetKey(["publish_wco", "releases"])],
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = " ".join(e.step_failure_data.error.message for e in failures)
    assert "kpi_values.csv: bytes differ from the SHA-256 in manifest.json" in message
    assert "UGA" in message and "secretariat only, shown in the public tier" in message
    assert {p.name: p.read_bytes() for p in wco_dir.iterdir()} == wco_before


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def run_without_disclosure_control(tmp_path_factory):
    """The fixture cycle with disclosure control broken (nothing withheld): what do the checks do?"""
    import shutil

    data_dir = tmp_path_factory.mktemp("uncontrolled")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / "2023")
    settings = settings_for(data_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pmm_pipeline.defs.publishing.control_disclosure", lambda facts, min_group_size, **_: [])
        result = run_cycle_in_process(settings, "2023")
    return settings, result


def test_blocking_checks_stop_a_release_that_would_leak(run_without_disclosure_control):
    settings, result = run_without_disclosure_control
    assert not result.success
    failed = {
        (e.asset_key.to_user_string(), e.check_name): e.metadata
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    metadata = failed[("publish_public/rollups", "reveals_no_hidden_value")]
    findings = metadata["all_findings"].value
    assert metadata["findings"].value == len(findings) > 0 and "| member_code |" in metadata["offending_cells"].value
    # Global and not-landlocked: KEN, FRA, DEU with DEU hidden (see the module docstring).
    for group in ("global/all", "landlocked/not_landlocked"):
        assert any(
            f"electronic_declaration_rate total {group} min DEU: min is the value of a member hidden" in f
            for f in findings
        )
    assert any(
        f.startswith(
            "[public readers] published means and pooled ratios: electronic_declaration_rate total"
            " DEU: hidden value can be solved for"
        )
        for f in findings
    )
    assert ("publish_public/kpi_values", "shows_only_values_its_readers_may_see") not in failed
    assert not (settings.layout.published_dir("2023") / "public").exists()
    assert not (settings.layout.published_dir("2023") / "wco").exists()
