"""The quality gate in a whole cycle run through Dagster: sample data with a known share of quality defects.

The check metadata must name exactly the seeded (member, rule) pairs; blocked members must be absent from
the KPI tables, the rollups and the release; warned values must be published with their flag.
"""

import re
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pmm_pipeline.orchestration.checks import ADMISSION_CHECK
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.quality.rules import RULES
from pmm_pipeline.stages.sample.defects import inject_quality_defects
from pmm_pipeline.stages.sample.documents import build_sample_documents
from pmm_pipeline.stages.sample.generate import write_sample
from pmm_pipeline_tests.conftest import run_cycle_in_process, settings_for, slow_fixture

CYCLE = "2023"
BLOCKING_KINDS = {"values_within_range", "values_match_item_type", "part_not_above_whole"}


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def defective_cycle(tmp_path_factory):
    """Every member in force asked, a tenth of the participants given one quality defect; one run of the cycle."""
    data_dir = tmp_path_factory.mktemp("quality")
    settings = settings_for(data_dir)
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    documents = build_sample_documents(reference, catalogue, CYCLE, seed=11)
    seeded = inject_quality_defects(documents, reference, catalogue, CYCLE, share=0.1, seed=11)
    write_sample(settings.layout.landing_dir(CYCLE), documents)
    result = run_cycle_in_process(settings, CYCLE)
    return settings, result, seeded


def query(settings, sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql, params or []).df()


def evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    """The rule checks (data findings) of the quality gate, by rule."""
    rules = {rule.id for rule in RULES}
    return {e.check_name: e for e in result.get_asset_check_evaluations() if e.check_name in rules}


def test_the_run_succeeds_and_every_kind_of_defect_was_seeded(defective_cycle):
    _, result, seeded = defective_cycle
    assert result.success
    assert len(seeded) >= 12  # a tenth of ~125 participants
    assert {rule for _, rule in seeded} == {
        "values_within_range",
        "values_match_item_type",
        "part_not_above_whole",
        "required_items_present",
        "variation_years_present",
        "yoy_change_within_band",
        "magnitude_consistent_with_history",
        "value_near_peer_median",
    }


def test_check_metadata_reports_exactly_the_seeded_defects(defective_cycle):
    _, result, seeded = defective_cycle
    checks = evaluations(result)
    assert set(checks) == {rule.id for rule in RULES}
    # The gate's own promise is a separate check, a guarantee: it held.
    [admission] = [e for e in result.get_asset_check_evaluations() if e.check_name == ADMISSION_CHECK]
    assert admission.passed and admission.severity == dg.AssetCheckSeverity.ERROR and admission.partition == CYCLE
    flagged = {(member, name) for name, e in checks.items() for member in e.metadata["members_flagged"].value}
    assert flagged == set(seeded)
    for name, e in checks.items():
        seeded_here = [member for member, rule in seeded if rule == name]
        assert e.passed == (not seeded_here), name
        assert e.metadata["failing_rows"].value == len(seeded_here), name  # one finding per defect
        assert e.severity == dg.AssetCheckSeverity.WARN and e.partition == CYCLE  # a data finding, of its cycle
        if not e.passed:
            blocked_here = len(set(e.metadata["members_blocked"].value))
            assert e.description == (
                f"{len(seeded_here)} finding{'s' * (len(seeded_here) != 1)} in members' data recorded"
                f" ({len(set(seeded_here))} member{'s' * (len(set(seeded_here)) != 1)});"
                f" {blocked_here} member{'s' * (blocked_here != 1)} blocked"
            )
            preview = e.metadata["failing_rows_preview"].value
            assert all(member in preview for member in seeded_here)
    blocked = sorted(member for member, rule in seeded if rule in BLOCKING_KINDS)
    assert sorted(m for name in BLOCKING_KINDS for m in checks[name].metadata["members_blocked"].value) == blocked
    assert checks["values_within_range"].metadata["findings_by_rule"].value == {
        rule: sum(1 for _, r in seeded if r == rule) for rule in {r for _, r in seeded}
    }


def test_the_data_docs_of_the_run_are_written_under_the_cycles_quality_folder(defective_cycle):
    settings, result, _ = defective_cycle
    docs = Path(evaluations(result)["part_not_above_whole"].metadata["data_docs"].value)
    assert docs == settings.layout.quality_dir(CYCLE) / result.run_id / "index.html"
    assert docs.is_file() and "Data Docs" in docs.read_text()
    # Self-contained: nothing in the written site refers to another host (issue 18).
    hosts = {
        host
        for path in docs.parent.rglob("*")
        if path.is_file()
        for host in re.findall(rb"https?://([^/\s\"'<>:)]+)", path.read_bytes())
    }
    assert hosts <= {b"127.0.0.1"}


def test_blocked_members_are_absent_from_kpis_rollups_and_the_release(defective_cycle):
    settings, _, seeded = defective_cycle
    blocked = {member for member, rule in seeded if rule in BLOCKING_KINDS}
    summary = query(settings, "SELECT member_code, is_admitted FROM quality.member_summary WHERE cycle = ?", [CYCLE])
    assert set(summary[~summary.is_admitted].member_code) == blocked
    participating = query(
        settings, "SELECT member_code FROM staging.participation WHERE cycle = ? AND is_participating", [CYCLE]
    )
    admitted = set(participating.member_code) - blocked
    for table in ("kpi.kpi_values", "publish_secretariat.kpi_values", "quality.admitted_answers"):
        members = set(query(settings, f"SELECT DISTINCT member_code FROM {table} WHERE cycle = ?", [CYCLE]).member_code)
        assert members == admitted, table
    rollup = query(
        settings,
        "SELECT n_participating FROM rollup.rollups WHERE cycle = ? AND kpi_id = 'electronic_declaration_rate'"
        " AND group_type = 'global'",
        [CYCLE],
    )
    assert list(rollup.n_participating) == [len(admitted)]
    staged = query(settings, "SELECT member_code FROM staging.answers WHERE cycle = ?", [CYCLE])
    admitted_rows = query(settings, "SELECT count(*) AS n FROM quality.admitted_answers WHERE cycle = ?", [CYCLE])
    assert admitted_rows.n[0] == (~staged.member_code.isin(blocked)).sum()


@pytest.mark.parametrize(
    "rule, status",
    [
        ("yoy_change_within_band", "reported"),
        ("magnitude_consistent_with_history", "reported"),
        ("value_near_peer_median", "reported"),
        ("required_items_present", "missing"),
        ("variation_years_present", "missing"),
    ],
)
def test_a_warned_value_is_published_with_its_flag(defective_cycle, rule, status):
    settings, _, seeded = defective_cycle
    member = next(m for m, r in seeded if r == rule)
    finding = query(settings, "SELECT item FROM quality.findings WHERE member_code = ? AND rule = ?", [member, rule])
    values = query(
        settings,
        """
        SELECT v.kpi_id, v.series, v.status, v.flags
        FROM publish_secretariat.kpi_values AS v
        WHERE v.cycle = ? AND v.member_code = ? AND v.flags <> ''
        """,
        [CYCLE, member],
    )
    assert not values.empty
    assert set(values["flags"]) == {rule}
    assert set(values.status) == {status}
    fed = query(
        settings,
        "SELECT DISTINCT kpi_id FROM quality.findings WHERE member_code = ? AND rule = ? AND kpi_id IS NOT NULL",
        [member, rule],
    )
    if not fed.empty:  # a rule about one KPI flags that KPI's value
        assert set(values.kpi_id) == set(fed.kpi_id)
    assert len(finding) == 1
