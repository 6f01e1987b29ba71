"""The quality gate's rules without a Dagster run: one seeded defect per rule, caught with the right severity.

The baseline is a valid synthetic cycle read through the real intake checks; every defect and every expected
finding (gate_cases.py) is written by hand.
"""

import dataclasses

import pandas as pd
import pytest

from pmm_pipeline.specs.catalogue.models import KPI_QUALITY_RULES
from pmm_pipeline.stages.quality.expectations import (
    QualityGateError,
    run_expectations,
)
from pmm_pipeline.stages.quality.frames import expected_answers, prepare_answers, required_answers
from pmm_pipeline.stages.quality.plan import ANSWERS_BATCH, EXPECTED_BATCH, plan_expectations
from pmm_pipeline.stages.quality.rules import RULES, RULES_BY_ID
from pmm_pipeline.warehouse.tables import FINDINGS, MEMBER_SUMMARY
from pmm_pipeline_tests.stages.quality.gate_cases import (  # noqa: F401 (fixtures)
    CYCLE,
    T1,
    Seeder,
    T,
    baseline,
    evaluate,
    seeded,
)


def test_the_valid_cycle_passes_every_expectation_on_the_pandas_route(baseline, reference, catalogue):  # noqa: F811
    cycle = reference.cycles.get(CYCLE)
    items = catalogue.items_for_version(cycle.catalogue_version)
    members = baseline.submissions.member_code.tolist()
    plan = plan_expectations(cycle, items)
    batches = {
        ANSWERS_BATCH: prepare_answers(baseline.answers, items, baseline.submissions),
        EXPECTED_BATCH: expected_answers(
            baseline.answers,
            members,
            required_answers(catalogue.kpis_for_version(cycle.catalogue_version), catalogue.formulas, cycle),
        ),
    }
    report = run_expectations(plan, batches, "passing")
    assert len(report.outcomes) == len(plan)
    for outcome in report.outcomes:
        assert outcome.rows_checked > 0, outcome.planned.check  # it looked at something...
        assert outcome.failing_row_ids == (), outcome.planned.check  # ...and found it valid
    assert evaluate(baseline, reference, catalogue).findings.empty


def test_every_rule_catches_its_seeded_defect_with_its_severity(seeded):  # noqa: F811
    outcome, members, expected = seeded
    findings = outcome.findings
    assert sorted(findings.rule.unique()) == sorted(r.id for r in RULES)
    for rule, rows in expected.items():
        found = findings[findings.rule == rule]
        assert set(found.member_code) == {members[rule]}, rule
        actual = [
            (f.severity, None if pd.isna(f.kpi_id) else f.kpi_id, f.item, int(f.year)) for f in found.itertuples()
        ]
        assert actual == rows, rule


def test_blocking_findings_keep_the_member_out_and_warnings_do_not(seeded, baseline):  # noqa: F811
    outcome, members, _ = seeded
    blocked = {
        members[r]
        for r in (
            "known_codes",
            "one_answer_per_item_year",
            "values_match_item_type",
            "values_within_range",
            "part_not_above_whole",
        )
    }
    assert set(outcome.blocked_members) == blocked
    assert set(outcome.admitted_answers.member_code) == set(baseline.submissions.member_code) - blocked
    summary = outcome.member_summary.set_index("member_code")
    assert list(outcome.member_summary.columns) == MEMBER_SUMMARY.column_names
    assert summary.loc[members["one_answer_per_item_year"], "blocking_failed"] == 2
    warned = summary.loc[members["yoy_change_within_band"]]
    assert (warned.blocking_failed, warned.warnings, warned.justified, warned.is_admitted) == (0, 1, 1, True)
    assert summary.loc[members["value_near_peer_median"], "is_admitted"]


def test_findings_carry_the_answer_its_place_and_the_members_justification(seeded):  # noqa: F811
    outcome, members, _ = seeded
    findings = outcome.findings
    assert list(findings.columns) == FINDINGS.column_names
    yoy = findings[findings.rule == "yoy_change_within_band"].iloc[0]
    assert (yoy.is_justified, yoy.justification) == (True, "a new border post opened")
    assert yoy.source_file == f"{members['yoy_change_within_band']}.json" and yoy.source_pointer.startswith("/answers/")
    negative = findings[findings.rule == "values_within_range"].iloc[0]
    assert negative.value == -3.0 and not negative.is_justified
    assert "-3" in negative.message and "send the submission again" in negative.message
    missing = findings[findings.rule == "required_items_present"].iloc[0]
    assert pd.isna(missing.value) and pd.isna(missing.source_pointer)
    assert missing.source_file == f"{members['required_items_present']}.json"  # the submission it is missing from
    duplicate = findings[findings.rule == "one_answer_per_item_year"].iloc[0]
    assert "/answers/999" in duplicate.message
    slip = findings[findings.rule == "magnitude_consistent_with_history"].iloc[0]
    assert " times the " in slip.message and "unit slip" in slip.message


def test_a_unit_slip_is_reported_once_not_also_as_a_yearly_change(seeded):  # noqa: F811
    outcome, members, _ = seeded
    own = outcome.findings[outcome.findings.member_code == members["magnitude_consistent_with_history"]]
    assert list(own.rule) == ["magnitude_consistent_with_history"]  # aeo_count has a 50 % band too


def test_rules_run_counts_only_what_had_something_to_check(seeded, baseline):  # noqa: F811
    outcome, members, _ = seeded
    revision = outcome.rule_runs["t_minus_1_matches_earlier_cycle"]
    assert revision.members_checked == {members["t_minus_1_matches_earlier_cycle"]}  # the only one with history
    summary = outcome.member_summary.set_index("member_code")
    others = summary.drop(index=members["t_minus_1_matches_earlier_cycle"])
    assert summary.loc[members["t_minus_1_matches_earlier_cycle"], "rules_run"] == others.rules_run.max() + 1
    assert outcome.rule_runs["known_codes"].members_checked == set(baseline.submissions.member_code)


def test_a_kpi_can_make_a_warning_rule_blocking(seeded, baseline, reference, catalogue):  # noqa: F811
    _, members, _ = seeded
    spec = catalogue.kpis["alcohol_seizure_variation"]
    strict = spec.model_copy(
        update={"quality": spec.quality.model_copy(update={"severity": {"yoy_change_within_band": "blocking"}})}
    )
    stricter = dataclasses.replace(catalogue, kpis={**catalogue.kpis, strict.id: strict})
    s = Seeder(baseline)
    member = members["yoy_change_within_band"]
    s.set(member, "alcohol_seizures", T, value=3 * s.value(member, "alcohol_seizures", T1))
    outcome = evaluate(s.inputs_with(), reference, stricter)
    assert list(outcome.findings[["member_code", "rule", "severity"]].itertuples(index=False, name=None)) == [
        (member, "yoy_change_within_band", "blocking")
    ]
    assert outcome.blocked_members == [member]


def test_peers_are_compared_only_in_a_large_enough_group(baseline, reference, catalogue):  # noqa: F811
    regions = baseline.submissions.set_index("member_code")["region_code"]
    few = sorted(regions[regions == "EUR"].index)[:5]
    small = dataclasses.replace(
        baseline,
        answers=baseline.answers[baseline.answers.member_code.isin(few)].reset_index(drop=True),
        submissions=baseline.submissions[baseline.submissions.member_code.isin(few)].reset_index(drop=True),
    )
    s = Seeder(small)
    s.set(few[0], "declarations_electronic", T, value=1.0)
    assert evaluate(s.inputs_with(), reference, catalogue).findings.empty  # 5 members: no yardstick

    spec = catalogue.kpis["electronic_declaration_rate"]
    lenient = spec.model_copy(update={"quality": spec.quality.model_copy(update={"peer_min_members": 3})})
    lenient_catalogue = dataclasses.replace(catalogue, kpis={**catalogue.kpis, lenient.id: lenient})
    outcome = evaluate(s.inputs_with(), reference, lenient_catalogue)
    assert list(outcome.findings[["member_code", "rule"]].itertuples(index=False, name=None)) == [
        (few[0], "value_near_peer_median")
    ]


def test_an_exception_inside_great_expectations_is_an_error_not_a_data_failure(baseline, reference, catalogue):  # noqa: F811
    cycle = reference.cycles.get(CYCLE)
    items = catalogue.items_for_version(cycle.catalogue_version)
    plan = [p for p in plan_expectations(cycle, items) if p.rule == "part_not_above_whole"]
    broken = prepare_answers(baseline.answers, items, baseline.submissions).drop(columns=["whole_value"])
    with pytest.raises(QualityGateError, match="part_not_above_whole/part_above_whole"):
        run_expectations(plan, {ANSWERS_BATCH: broken}, "broken")


def test_every_rule_is_declared_once_with_a_severity():
    assert len(RULES_BY_ID) == len(RULES)
    assert set(KPI_QUALITY_RULES) <= set(RULES_BY_ID)
    assert {r.id for r in RULES if r.is_blocking} == {
        "known_codes",
        "one_answer_per_item_year",
        "values_match_item_type",
        "values_within_range",
        "part_not_above_whole",
    }


def test_answers_outside_the_participants_latest_submissions_are_unknown(baseline, reference, catalogue):  # noqa: F811
    first, second = baseline.submissions.member_code[:2]
    answers = baseline.answers
    stray = answers[(answers.member_code == first) & (answers["item"] == "declarations_total")]
    stray = stray.assign(member_code="XXX")
    stale = answers[(answers.member_code == second) & (answers["item"] == "declarations_total") & (answers.year == T)]
    stale = stale.assign(year=T1, submission_id="0" * 64)  # from a version that is not the member's latest
    with_strays = dataclasses.replace(baseline, answers=pd.concat([answers, stray, stale], ignore_index=True))
    outcome = evaluate(with_strays, reference, catalogue)
    columns = ["member_code", "rule", "severity", "item", "year"]
    assert list(outcome.findings[columns].itertuples(index=False, name=None)) == [
        (second, "known_codes", "blocking", "declarations_total", T1),
        ("XXX", "known_codes", "blocking", "declarations_total", T),
    ]
    assert outcome.blocked_members == [second]  # XXX does not take part: it has no summary row to block
    assert "XXX" not in set(outcome.admitted_answers.member_code)


def test_a_blocked_member_found_among_the_admitted_is_an_error_of_the_gate(seeded, tmp_path):  # noqa: F811
    import dagster as dg

    from pmm_pipeline.defs.quality import build_admission_check_result, build_rule_check_result
    from pmm_pipeline.orchestration.checks import CHECKS
    from pmm_pipeline.stages.quality.gate import members_wrongly_admitted, write_gate_outcome
    from pmm_pipeline.warehouse.connection import open_warehouse

    outcome, members, _ = seeded
    blocked = members["values_within_range"]
    with open_warehouse(tmp_path / "warehouse.duckdb") as conn:
        write_gate_outcome(conn, CYCLE, outcome)
        assert members_wrongly_admitted(conn, CYCLE) == {}
        # What a faulty gate (or a hand edit) could leave behind: a blocked member's answer admitted.
        conn.execute(
            "INSERT INTO quality.admitted_answers SELECT * REPLACE (? AS member_code)"
            " FROM quality.admitted_answers WHERE cycle = ? LIMIT 1",
            [blocked, CYCLE],
        )
        wrongly = members_wrongly_admitted(conn, CYCLE)
    assert wrongly == {"values_within_range": [blocked]}
    # Issue 18: the broken promise is the gate's own check (a guarantee, ERROR), apart from the rule's data
    # finding, which stays a warning whatever the gate did.
    error = build_admission_check_result(wrongly)
    assert (error.passed, error.metadata["members_wrongly_admitted"].value) == (False, [blocked])
    assert error.severity == CHECKS[error.check_name].severity == dg.AssetCheckSeverity.ERROR
    assert build_admission_check_result({}).passed
    rule = RULES_BY_ID["values_within_range"]
    data_failure = build_rule_check_result(rule, outcome)
    assert (data_failure.passed, data_failure.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert data_failure.metadata["members_blocked"].value == [blocked]
    warning = build_rule_check_result(RULES_BY_ID["value_near_peer_median"], outcome)
    assert warning.metadata["members_blocked"].value == []  # a warning keeps the member in
