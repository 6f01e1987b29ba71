"""The single-file verdict's pandas path judges every planned expectation exactly as Great Expectations does.

Proved three ways: on `pmm sample`'s data with quality defects and broken files, in every format, file by file
and for the whole cycle at once (the findings rows, compared row for row); on generated answers (hypothesis),
outcome by outcome (rows checked and failing rows of each expectation); and on the contracts of the fast path
itself (arguments it does not know, GX's vacuous successes, exceptions).
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.context import validation_context
from pmm_pipeline.stages.ingestion.outcomes import Accepted, IntakeResult, ReceivedFile
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.quality.expectations import (
    PlannedExpectation,
    QualityGateError,
    run_expectations,
)
from pmm_pipeline.stages.quality.fast import EVALUATORS, can_evaluate, evaluate
from pmm_pipeline.stages.quality.frames import prepare_answers
from pmm_pipeline.stages.quality.offline import gate_findings_of_file
from pmm_pipeline.stages.quality.plan import ANSWERS_BATCH, EXPECTED_BATCH, plan_expectations
from pmm_pipeline.stages.sample.generate import generate_sample

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


CYCLE = "2027"
AT = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def specs():
    base = Settings.from_env({})
    reference = load_reference(base.reference_dir, base.cycles_file)
    catalogue = load_catalogue(base.specs_dir)
    return reference, catalogue, reference.cycles.get(CYCLE)


@pytest.fixture(scope="module")
def sample_files(specs, tmp_path_factory):
    """Every accepted file of a sample with quality defects and broken files, in json, xlsx and csv."""
    reference, catalogue, _ = specs
    landing = tmp_path_factory.mktemp("landing")
    generate_sample(
        reference,
        catalogue,
        CYCLE,
        landing,
        members=40,
        seed=7,
        formats=("json", "xlsx", "csv"),
        error_share=0.1,
        quality_defect_share=0.3,
    )
    ctx = validation_context(reference, catalogue, CYCLE)
    accepted, rejected = [], 0
    for i, path in enumerate(sorted(p for p in landing.rglob("*") if p.is_file())):
        received = ReceivedFile(f"{i:064x}", path.name, path.stat().st_size, AT, None)
        outcome = read_file(path.name, path.read_bytes(), ctx)
        if outcome.submission is None:
            rejected += 1
            continue
        accepted.append(Accepted(received, outcome.submission))
    assert rejected and len(accepted) > 10  # both kinds are there, or the sample proves nothing
    return accepted


def _both(frames, specs):
    reference, catalogue, cycle = specs
    slow = gate_findings_of_file(frames, reference, catalogue, cycle, fast=False)
    quick = gate_findings_of_file(frames, reference, catalogue, cycle, fast=True)
    return slow, quick


def test_the_fast_path_gives_the_findings_of_great_expectations_file_by_file(sample_files, specs):
    suffixes, with_findings = set(), 0
    for accepted in sample_files:
        frames = intake_frames(IntakeResult(received=[accepted.received], accepted=[accepted]), CYCLE)
        slow, quick = _both(frames, specs)
        pd.testing.assert_frame_equal(quick, slow)
        suffixes.add(accepted.received.file_name.rsplit(".", 1)[-1])
        with_findings += not slow.empty
    assert suffixes == {"json", "xlsx", "csv"}
    assert with_findings  # the seeded defects were found, so the comparison covered failing rows


def test_the_fast_path_gives_the_findings_of_great_expectations_for_the_whole_cycle(sample_files, specs):
    result = IntakeResult(received=[a.received for a in sample_files], accepted=list(sample_files))
    slow, quick = _both(intake_frames(result, CYCLE), specs)
    pd.testing.assert_frame_equal(quick, slow)
    assert slow["rule"].nunique() >= 3


def _outcomes(report):
    return [(o.planned.batch, o.planned.rule, o.planned.check, o.rows_checked, o.failing_row_ids) for o in report]


def _compare(plan, batches):
    """Outcome by outcome: the same expectations answered, the same rows checked, the same failing rows."""
    try:
        slow = _outcomes(run_expectations(plan, batches, "equivalence").outcomes)
    except QualityGateError:
        with pytest.raises(QualityGateError):
            run_expectations(plan, batches, "equivalence", fast=True)
        return None
    quick = _outcomes(run_expectations(plan, batches, "equivalence", fast=True).outcomes)
    assert sorted(quick) == sorted(slow)
    assert [o[:3] for o in quick] == [(p.batch, p.rule, p.check) for p in plan if p.batch in batches]
    return slow


MEMBERS = ["KEN", "FRA", "PER"]
STATUSES = ["reported", "not_applicable", "not_available", "estimated", None]


@st.composite
def answers(draw, items, years):
    n = draw(st.integers(0, 40))
    codes = [*items, "ZZ_UNKNOWN"]
    rows = []
    for _ in range(n):
        item = draw(st.sampled_from(codes))
        levels = [level.code for level in items[item].answer_levels] if item in items else []
        rows.append(
            {
                "member_code": draw(st.sampled_from(MEMBERS)),
                "submission_id": draw(st.sampled_from(["s1", "s2", None])),
                "item": item,
                "year": draw(st.sampled_from([*years, years[0] - 1])),
                "status": draw(st.sampled_from(STATUSES)),
                "value": draw(
                    st.one_of(
                        st.none(),
                        st.floats(-5, 1e6, allow_nan=False),
                        st.integers(-3, 500).map(float),
                        st.just(float("nan")),
                    )
                ),
                "value_text": draw(st.one_of(st.none(), st.sampled_from([*levels, "bogus"]) if levels else st.none())),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["member_code", "submission_id", "item", "year", "status", "value", "value_text"]
    )
    return frame.astype({"year": "int64", "value": "float64"})


@pytest.fixture(scope="module")
def plan_and_items(specs):
    _, catalogue, cycle = specs
    items = catalogue.items_for_version(cycle.catalogue_version)
    return plan_expectations(cycle, items), items, cycle


def test_every_planned_expectation_has_a_fast_evaluator(plan_and_items):
    plan, _, _ = plan_and_items
    # If a new expectation type is planned without an evaluator it falls back to GX (slower, still right):
    # this says so, so that the latency target is not lost silently.
    assert {p.expectation for p in plan} <= set(EVALUATORS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fast_path_equals_great_expectations_on_generated_answers(plan_and_items, data):
    plan, items, cycle = plan_and_items
    raw = data.draw(answers(items, list(cycle.years)))
    submissions = pd.DataFrame({"member_code": ["KEN", "FRA"], "submission_id": ["s1", "s2"]})
    prepared = prepare_answers(raw, items, submissions)
    expected = pd.DataFrame(
        {
            "row_id": np.arange(4, dtype="int64"),
            "member_code": ["KEN", "KEN", "FRA", "FRA"],
            "kpi_id": ["k1", "k2", "k1", "k2"],
            "item": ["a", "b", "a", "b"],
            "year": [cycle.years[1], cycle.years[0], cycle.years[1], cycle.years[0]],
            "rule": ["required_items_present", "variation_years_present"] * 2,
            "status": data.draw(st.lists(st.sampled_from(["reported", None]), min_size=4, max_size=4)),
        }
    )
    _compare(plan, {ANSWERS_BATCH: prepared, EXPECTED_BATCH: expected})


def _frame(**columns):
    frame = pd.DataFrame(columns)
    frame.insert(0, "row_id", np.arange(len(frame), dtype="int64"))
    return frame


@pytest.mark.parametrize(
    ("expectation", "kwargs", "where", "frame"),
    [
        # every value null: not-null fails them all; in-set is vacuously successful
        ("ExpectColumnValuesToNotBeNull", {"column": "v"}, {}, _frame(v=[None, None], s=["a", "a"])),
        ("ExpectColumnValuesToBeInSet", {"column": "v", "value_set": [1.0]}, {}, _frame(v=[np.nan, np.nan])),
        ("ExpectColumnValuesToBeInSet", {"column": "v", "value_set": [1.0]}, {}, _frame(v=[np.nan, 2.0])),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "v", "min_value": 0, "max_value": 0},
            {"s": "a"},
            _frame(v=[0.5, np.nan], s=["a", "b"]),
        ),
        (
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "v", "column_B": "w"},
            {},
            _frame(v=[1.0, np.nan, np.nan], w=[1.0, 2.0, np.nan]),
        ),
        (
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "v", "column_B": "w", "ignore_row_if": "neither"},
            {},
            _frame(v=[1.0, np.nan], w=[np.nan, np.nan]),
        ),
        (
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "v", "column_B": "w", "or_equal": True, "ignore_row_if": "either_value_is_missing"},
            {"s": ["a", "b"]},
            _frame(v=[1.0, np.nan, 0.0, 3.0], w=[2.0, 1.0, 0.0, 1.0], s=["a", "a", "b", "c"]),
        ),
        (
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "v", "column_B": "w"},
            {},
            _frame(v=[1.0, 1.0], w=[1.0, 0.0]),
        ),
        (
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["v", "s"]},
            {},
            _frame(v=[1.0, 1.0, np.nan, np.nan], s=["a", "a", None, None]),
        ),
        ("ExpectColumnValuesToBeNull", {"column": "v"}, {"s": "zz"}, _frame(v=[1.0], s=["a"])),  # no row in the domain
    ],
)
def test_each_evaluator_follows_great_expectations_domain_rules(expectation, kwargs, where, frame):
    plan = [PlannedExpectation(ANSWERS_BATCH, "r", "c", expectation, kwargs, "d", where)]
    assert can_evaluate(expectation, kwargs, where, frame.columns)
    _compare(plan, {ANSWERS_BATCH: frame})


def test_unknown_arguments_and_missing_columns_go_to_great_expectations():
    frame = _frame(v=[1.0, 2.0])
    assert not can_evaluate(
        "ExpectColumnValuesToBeInSet", {"column": "v", "value_set": [1.0], "mostly": 0.5}, {}, frame.columns
    )
    assert not can_evaluate("ExpectColumnValuesToBeInSet", {"column": "absent", "value_set": [1.0]}, {}, frame.columns)
    assert not can_evaluate("ExpectColumnValuesToBeUnique", {"column": "v"}, {}, frame.columns)
    # ...and Great Expectations then judges them, beside the fast ones, in plan order.
    frame = _frame(v=[1.0, 1.0, 2.0])
    plan = [
        PlannedExpectation(ANSWERS_BATCH, "r", "unique", "ExpectColumnValuesToBeUnique", {"column": "v"}, "d"),
        PlannedExpectation(
            ANSWERS_BATCH, "r", "in_set", "ExpectColumnValuesToBeInSet", {"column": "v", "value_set": [1.0]}, "d"
        ),
    ]
    report = run_expectations(plan, {ANSWERS_BATCH: frame}, "fallback", fast=True)
    assert [(o.planned.check, o.rows_checked, o.failing_row_ids) for o in report.outcomes] == [
        ("unique", 3, (0, 1)),
        ("in_set", 3, (2,)),
    ]


def test_an_evaluator_that_raises_stops_the_gate():
    frame = _frame(v=["text", "more"], w=[1.0, 2.0])
    plan = [
        PlannedExpectation(
            ANSWERS_BATCH, "r", "c", "ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": "v", "column_B": "w"}, "d"
        )
    ]
    with pytest.raises(QualityGateError):
        run_expectations(plan, {ANSWERS_BATCH: frame}, "raises", fast=True)
    with pytest.raises(QualityGateError):
        run_expectations(plan, {ANSWERS_BATCH: frame}, "raises")


def test_evaluate_names_the_failing_rows_by_row_id():
    frame = _frame(v=[5.0, 1.0, 7.0]).iloc[[2, 0, 1]]  # row ids are not positions here
    result = evaluate("ExpectColumnValuesToBeBetween", {"column": "v", "min_value": 0, "max_value": 4}, {}, frame)
    assert (result.rows_checked, result.failing_row_ids, result.success) == (3, (0, 2), False)


def test_leaving_out_the_rules_not_checked_offline_changes_no_finding(sample_files, specs, monkeypatch):
    from pmm_pipeline.stages.quality import offline

    reference, catalogue, cycle = specs
    result = IntakeResult(received=[a.received for a in sample_files], accepted=list(sample_files))
    frames = intake_frames(result, CYCLE)
    skipping = gate_findings_of_file(frames, reference, catalogue, cycle)
    every_rule = offline.evaluate_quality

    def without_skip(*args, skip_cross=frozenset(), **kwargs):
        assert "value_near_peer_median" in skip_cross  # the offline gate asks to leave the peer rule out
        return every_rule(*args, **kwargs)

    monkeypatch.setattr(offline, "evaluate_quality", without_skip)
    pd.testing.assert_frame_equal(skipping, gate_findings_of_file(frames, reference, catalogue, cycle))
    assert not skipping.empty
