"""Issue 16: every metadata value a step emits is bounded (text, lists, rows, the whole event), with a note of
what was cut, and member text in markdown previews renders as text."""

import re

import dagster as dg
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmm_pipeline.core.text import MAX_TEXT_CHARS, one_line
from pmm_pipeline.orchestration.metadata import (
    CUT_NOTE_KEY,
    MAX_EVENT_BYTES,
    MAX_JSON_ITEMS,
    MAX_MARKDOWN_CHARS,
    bound_metadata,
    escape_markdown,
    unescape_markdown,
)
from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.orchestration.table_assets import markdown_table
from pmm_pipeline_tests.conftest import slow_fixture

COMMENT = "no PCA unit " * 1_300_000  # ~15.6 MB, as in the review
PROBLEMS = [{"code": "formula_cell", "message": f"cell B{i} holds a formula", "place": f"B{i}"} for i in range(36_000)]


def event_bytes(metadata) -> int:
    return sum(
        len(k) + len(dg.serialize_value(dg.MetadataValue.text(v) if isinstance(v, str) else v))
        for k, v in metadata.items()
    )


def test_a_huge_comment_and_36k_problems_stay_under_the_cap_with_a_note():
    bounded = bound_metadata(
        {
            "comment": COMMENT,
            "comment_md": dg.MetadataValue.md(COMMENT),
            "comment_text": dg.MetadataValue.text(COMMENT),
            "problems": dg.MetadataValue.json(PROBLEMS),
            "raw_problems": PROBLEMS,
            "dagster/row_count": dg.MetadataValue.int(36_000),
        }
    )
    assert event_bytes(bounded) <= MAX_EVENT_BYTES
    assert len(bounded["comment_text"].value) <= MAX_TEXT_CHARS
    assert bounded["dagster/row_count"].value == 36_000  # small values are kept as they are
    note = bounded[CUT_NOTE_KEY].value
    for key in ("comment", "comment_md", "comment_text", "problems", "raw_problems"):
        assert key in note


def test_each_kind_of_value_is_cut_to_its_own_limit_and_says_so_in_place():
    bounded = bound_metadata(
        {
            "text": dg.MetadataValue.text("x" * 10_000),
            "md": dg.MetadataValue.md("| a |\n|---|\n" + "| row |\n" * 10_000),
            "json": dg.MetadataValue.json({"members": list(range(2_000)), "message": "y" * 5_000}),
        },
        max_bytes=10 * MAX_EVENT_BYTES,
    )
    assert len(bounded["text"].value) <= MAX_TEXT_CHARS and "cut:" in bounded["text"].value
    md = bounded["md"].value
    assert len(md) <= MAX_MARKDOWN_CHARS and md.splitlines()[-1].startswith("… [cut:")
    assert all(line == "| row |" for line in md.splitlines()[2:-2])  # whole rows only
    members = bounded["json"].value["members"]
    assert len(members) == MAX_JSON_ITEMS and "more items of 2,000" in members[-1]
    assert len(bounded["json"].value["message"]) <= 500


def test_bounding_twice_changes_nothing():
    once = bound_metadata({"comment": COMMENT, "problems": PROBLEMS, "n": 3})
    assert bound_metadata(once) == once


def test_many_medium_values_are_omitted_largest_first_until_the_event_fits():
    medium = MAX_MARKDOWN_CHARS - 200
    metadata = {f"preview_{i}": dg.MetadataValue.md("z" * medium) for i in range(MAX_EVENT_BYTES // medium + 2)}
    metadata["small"] = dg.MetadataValue.int(1)
    bounded = bound_metadata(metadata)
    assert event_bytes(bounded) <= MAX_EVENT_BYTES
    omitted = [
        k
        for k, v in bounded.items()
        if k != CUT_NOTE_KEY and isinstance(v, dg.TextMetadataValue) and v.value.startswith("(omitted")
    ]
    assert omitted and all(k in bounded[CUT_NOTE_KEY].value for k in omitted)
    assert bounded["small"].value == 1


HOSTILE = (
    "ok | fake cell\nnew row [click](http://evil.example) ![pixel](http://evil.example/p.png) <img src=x> `code` \\|"
)


def test_member_text_in_a_markdown_preview_renders_as_text():
    frame = pd.DataFrame({"member_code": ["KEN", "UGA"], "comment": [HOSTILE, None]})
    table = markdown_table(frame)
    lines = table.splitlines()
    assert len(lines) == 4  # header, rule, two rows: the newline did not start a row
    unescaped_pipes = [len(re.findall(r"(?<!\\)\|", line.replace("\\\\", ""))) for line in lines]
    assert unescaped_pipes == [3, 3, 3, 3]  # no extra cell
    body = lines[2]
    assert "<" not in body and "](" not in body.replace("\\](", "")
    assert "\\[click\\]" in body and "\\!" in body and "\\`code\\`" in body
    assert lines[3] == "| UGA |  |"


def test_escaping_cannot_be_undone_by_a_backslash():
    assert escape_markdown("\\|") == "\\\\\\|"
    assert escape_markdown("\\[") == "\\\\\\["


def test_a_preview_cell_is_cut_and_rows_are_counted():
    frame = pd.DataFrame({"comment": [COMMENT] * 80})
    table = markdown_table(frame)
    assert len(table) < 50 * 300 and table.splitlines()[-1] == "… 30 more rows not shown"


@pytest.fixture
@slow_fixture("cycle")
def events_of():
    def run(asset):
        defs = dg.Definitions(
            assets=apply_asset_policies([asset]),
            jobs=[dg.define_asset_job("j", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor)],
        )
        instance = dg.DagsterInstance.ephemeral()
        result = defs.resolve_job_def("j").execute_in_process(instance=instance, raise_on_error=False)
        return result, instance.all_logs(result.run_id)

    return run


def test_every_step_result_is_bounded_by_the_guard(events_of):
    @dg.asset(check_specs=[dg.AssetCheckSpec("problems_listed", asset="answers")])
    def answers():
        yield dg.MaterializeResult(metadata={"comment": COMMENT, "problems": dg.MetadataValue.json(PROBLEMS)})
        yield dg.AssetCheckResult(
            check_name="problems_listed", passed=False, metadata={"problems": PROBLEMS}, description=COMMENT
        )

    result, events = events_of(answers)
    assert result.success
    materialization = next(e for e in events if e.dagster_event and e.dagster_event.is_step_materialization)
    metadata = materialization.dagster_event.step_materialization_data.materialization.metadata
    assert event_bytes(metadata) <= MAX_EVENT_BYTES and CUT_NOTE_KEY in metadata
    check = next(
        e
        for e in events
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    evaluation = check.dagster_event.event_specific_data
    assert event_bytes(evaluation.metadata) <= MAX_EVENT_BYTES and len(evaluation.description) <= MAX_TEXT_CHARS
    assert sum(len(e.message or "") for e in events) < 1_000_000


def test_a_failure_carrying_huge_metadata_is_bounded_too(events_of):
    @dg.asset
    def refused():
        raise dg.Failure(description="refused: " + COMMENT, metadata={"problems": PROBLEMS}, allow_retries=False)

    result, events = events_of(refused)
    assert not result.success
    [failure] = [
        e for e in events if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    user = failure.dagster_event.step_failure_data.user_failure_data
    assert len(user.description) <= MAX_TEXT_CHARS and event_bytes(user.metadata) <= MAX_EVENT_BYTES


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=60))
def test_unescaping_gives_back_what_was_escaped(text):
    """`pmm run` prints a failed check's description, escaped for the UI, as the words it was given."""
    assert unescape_markdown(escape_markdown(text)) == one_line(text, len(text) + 1)
