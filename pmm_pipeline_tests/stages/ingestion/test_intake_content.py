"""What a received file may contain, whatever its format: storable text, exact and plausible numbers, a real
date, at least one answer, a bounded list of problems, and the member named by its content (issue 16, part A)."""

import copy
import dataclasses
import datetime as dt
import io
import json
import math
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest
import yaml

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits, Settings
from pmm_pipeline.core.text import printable
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.specs.catalogue.models import TYPE_BOUNDS, ItemType
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.outcomes import ReceivedFile
from pmm_pipeline.stages.ingestion.quarantine import quarantine
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.text import normalise, quote
from pmm_pipeline.stages.ingestion.timestamps import CLOCK_TOLERANCE
from pmm_pipeline.stages.questionnaire.template import render_questionnaire
from pmm_pipeline.stages.sample.documents import build_sample_documents, render_json
from pmm_pipeline_tests.paths import FIXTURES as TEST_FIXTURES

FIXTURES = TEST_FIXTURES / "cycle_2023"
RECEIVED = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)  # a receipt time inside cycle 2023's collection
DOCUMENT = {
    "format": "pmm-submission",
    "format_version": 1,
    "member": "KEN",
    "cycle": "2023",
    "submitted_at": "2024-01-31T10:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 1000},
        {"item": "declarations_electronic", "year": 2022, "value": 900, "comment": "from the customs system"},
    ],
    "disclosure": {"electronic_declaration_rate": "public"},
}
CSV_HEADER = "member,cycle,submitted_at,item,year,value,status,comment,kpi,disclosure"


@pytest.fixture(scope="module")
def ctx(reference, catalogue):
    return validation_context(reference, catalogue, "2023")


@pytest.fixture(scope="module")
def template(reference, catalogue) -> bytes:
    return render_questionnaire(catalogue, reference, "2023", "KEN", "en")


def json_file(**changes) -> bytes:
    """The document as JSON text; `answers` may be replaced whole, answer 1's fields changed with `answer`."""
    document = copy.deepcopy(DOCUMENT)
    document["answers"][1].update(changes.pop("answer", {}))
    document.update(changes)
    return json.dumps(document).encode()


def raw_json(text_in_comment: str) -> bytes:
    """JSON whose comment holds `text_in_comment` as written (escapes such as \\ud800 stay escapes in the file)."""
    return json_file(answer={"comment": "@@"}).replace(b'"@@"', b'"' + text_in_comment.encode() + b'"')


def csv_file(*rows: str, header: str = CSV_HEADER) -> bytes:
    return "\n".join([header, *rows]).encode("utf-8")


def csv_row(value="1000", item="declarations_total", comment="", member="KEN", submitted="2024-01-31T10:00:00Z"):
    return f"{member},2023,{submitted},{item},2022,{value},,{comment},,"


def questionnaire(template: bytes, values: dict[str, object], comment: str | None = None, cover=None) -> bytes:
    """The KEN questionnaire with `values` by item (year T), a comment on the first of them, cover fields set."""
    workbook = openpyxl.load_workbook(io.BytesIO(template))
    cover_sheet, answers = workbook.worksheets[:2]
    for row in cover_sheet.iter_rows():
        if row[0].value == "pmm:submitted_at":
            row[2].value = dt.datetime(2024, 1, 31, 10, 0)
        for key, text in (cover or {}).items():
            if row[0].value == f"pmm:{key}":
                row[2].value = text
    first = True
    for row in answers.iter_rows(min_row=5):
        if row[0].value in values and row[3].value == 2022:
            row[4].value = values[row[0].value]
            if first and comment is not None:
                row[6].value = comment
            first = False
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def rezip(data: bytes, edit) -> bytes:
    """A copy of a workbook with `edit` applied to the XML of every worksheet."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                content = edit(content)
            target.writestr(info.filename, content)
    return out.getvalue()


def codes(outcome) -> list[str]:
    return [p.code for p in outcome.problems]


# 1. Text: normalised, or refused with its place, in every format -----------------------------------------


@pytest.mark.parametrize(
    "escaped, shown",
    [
        ("ok \\ud800 bad", "\\ud800"),  # a lone surrogate: DuckDB refused it and the whole intake step failed
        ("nul \\u0000 here", "\\x00"),
        ("bell \\u0007", "\\x07"),
        ("c1 \\u0085 next line", "\\x85"),
        ("delete \\u007f", "\\x7f"),
        ("non-character \\uffff", "\\uffff"),
        ("non-character \\ufdd0", "\\ufdd0"),
        ("plane 16 \\udbff\\udfff", "\\U0010ffff"),  # U+10FFFF written as a surrogate pair: a non-character
    ],
)
def test_json_text_that_cannot_be_stored_is_refused_with_its_pointer(ctx, escaped, shown):
    outcome = read_file("KEN_text.json", raw_json(escaped), ctx, received_at=RECEIVED)
    assert outcome.submission is None
    assert codes(outcome) == ["bad_text"]
    problem = outcome.problems[0]
    assert problem.location.pointer == "/answers/1/comment"
    assert problem.item == "declarations_electronic" and problem.year == 2022
    assert shown in problem.message and "comment" in problem.message
    json.dumps(problem.as_dict(), ensure_ascii=False).encode("utf-8")  # the reason file can be written as UTF-8
    assert outcome.member_code == "KEN"  # the content names KEN: the feedback reaches KEN


@pytest.mark.parametrize(
    "field, document_change, pointer",
    [
        ("member", {"member": "KEN\u0000"}, "/member"),
        ("cycle", {"cycle": "2023\ud800"}, "/cycle"),
        ("submitted_at", {"submitted_at": "2024-01-31T10:00:00Z\u0001"}, "/submitted_at"),
        (
            "disclosure",
            {"disclosure": {"electronic_declaration_rate": "public\u009b"}},
            "/disclosure/electronic_declaration_rate",
        ),
        ("disclosure key", {"disclosure": {"electronic\ufffe_rate": "public"}}, "/disclosure"),
        (
            "level",
            {"answers": [{"item": "single_window_level", "year": 2022, "value": "partially\u0007"}]},
            "/answers/0/value",
        ),
        (
            "nested value",
            {"answers": [{"item": "aeo_count", "year": 2022, "value": [["\ud83d"]]}]},
            "/answers/0/value/0/0",
        ),
        ("item", {"answers": [{"item": "aeo_count\u001b[31m", "year": 2022, "value": 1}]}, "/answers/0/item"),
    ],
)
def test_every_json_field_is_covered_by_the_text_check(ctx, field, document_change, pointer):
    outcome = read_file("KEN_fields.json", json_file(**document_change), ctx, received_at=RECEIVED)
    assert outcome.submission is None
    bad = [p for p in outcome.problems if p.code == "bad_text"]
    assert [p.location.pointer for p in bad] == [pointer], field


def test_a_deeply_nested_json_value_is_a_structure_problem_not_a_crash(ctx):
    nested = json_file(answer={"value": "@@"}).replace(b'"@@"', b"[" * 900 + b"]" * 900)
    outcome = read_file("KEN_deep.json", nested, ctx, received_at=RECEIVED)
    assert codes(outcome)[0] == "bad_structure" and outcome.problems[0].location.pointer.startswith("/answers/1/value")
    assert outcome.member_code == "KEN"


def test_csv_text_is_refused_with_its_line(ctx):
    data = csv_file(csv_row(), csv_row(item="declarations_electronic", value="900", comment="ctrl \x01 char"))
    outcome = read_file("KEN_text.csv", data, ctx, received_at=RECEIVED)
    assert codes(outcome) == ["bad_text"]
    assert outcome.problems[0].location.line == 3
    c1 = csv_file(csv_row(comment="c1 \u0085 inside"))  # UTF-8 C2 85: a C1 control character, not Windows-1252 text
    assert codes(read_file("KEN_c1.csv", c1, ctx, received_at=RECEIVED)) == ["bad_text"]
    member = csv_file(csv_row(member="KEN\x7f"))
    problem = read_file("KEN_member.csv", member, ctx, received_at=RECEIVED).problems[0]
    assert (problem.code, problem.location.line) == ("bad_text", 2)


def test_excel_text_is_refused_with_its_sheet_and_cell(ctx, template):
    # openpyxl refuses to write C0 controls; DEL, C1 and non-characters it writes, as a hostile program would.
    data = questionnaire(template, {"declarations_total": 1000}, comment="bad \x7f comment")
    outcome = read_file("KEN_text.xlsx", data, ctx, received_at=RECEIVED)
    assert codes(outcome) == ["bad_text"]
    assert outcome.problems[0].location.sheet == "Answers" and outcome.problems[0].location.cell.startswith("E")
    cover = questionnaire(template, {"declarations_total": 1000}, cover={"contact_name": "Ana \ufdd0"})
    problem = read_file("KEN_cover.xlsx", cover, ctx, received_at=RECEIVED).problems[0]
    assert problem.code == "bad_text" and "contact_name" in problem.message
    assert problem.location.sheet is not None and problem.location.cell is not None


def test_text_is_normalised_nfc_trimmed_with_unix_line_breaks(ctx, template):
    decomposed = "re\u0301vise\u0301 "  # "révisé" with combining accents, and a trailing space
    data = json_file(member=" KEN ", answer={"comment": decomposed})
    outcome = read_file("KEN.json", data, ctx, received_at=RECEIVED)
    assert outcome.submission is not None, outcome.problems
    assert outcome.submission.member_code == "KEN"
    assert {a.comment for a in outcome.submission.answers} == {None, "r\u00e9vis\u00e9"}
    crlf = csv_file(csv_row(comment='"line one\r\nline two\rthree"'))
    answers = read_file("KEN.csv", crlf, ctx, received_at=RECEIVED).submission.answers
    assert answers[0].comment == "line one\nline two\nthree"
    cover = {"contact_name": " Ana "}
    xlsx = questionnaire(template, {"declarations_total": 1000}, comment=" cafe\u0301 ", cover=cover)
    submission = read_file("KEN.xlsx", xlsx, ctx, received_at=RECEIVED).submission
    assert [a.comment for a in submission.answers] == ["caf\u00e9"]
    assert submission.contact["contact_name"] == "Ana"


def test_a_text_over_the_length_limit_is_refused_without_being_echoed(ctx):
    limit = DEFAULT_LIMITS.max_text_length
    assert read_file("KEN.json", json_file(answer={"comment": "x" * limit}), ctx, received_at=RECEIVED).submission
    outcome = read_file("KEN.json", json_file(answer={"comment": "y" * (limit + 1)}), ctx, received_at=RECEIVED)
    assert codes(outcome) == ["text_too_long"]
    assert str(limit) in outcome.problems[0].message and len(outcome.problems[0].message) < 500
    small = IntakeLimits(max_text_length=25)  # the longest code and date of the file are 23 and 20 characters
    assert codes(read_file("KEN.csv", csv_file(csv_row(comment="a comment of 26 characters")), ctx, small)) == [
        "text_too_long"
    ]


def test_whatever_text_a_file_holds_the_raw_tables_can_store(ctx, tmp_path, template):
    """Hostile text next to a valid file: every row of every raw table goes into DuckDB."""
    landing = tmp_path / "landing"
    landing.mkdir()
    files = {
        "KEN_good.json": json_file(answer={"comment": "re\u0301vise\u0301"}),
        "KEN_surrogate.json": raw_json("ok \\ud800 bad"),
        "KEN_nul.json": raw_json("\\u0000"),
        "UGA_c1.csv": csv_file(csv_row(member="UGA", comment="a\u0085b")),
        "FRA_bad.xlsx": questionnaire(template, {"declarations_total": 1000}, comment="a\u0085b"),
        "BRA_long.json": json_file(member="BRA", answer={"comment": "\u00e9" * 5000}),
        "ARG_value.json": json_file(member="ARG", answer={"value": "\ud800" * 3000}),
    }
    for name, data in files.items():
        (landing / name).write_bytes(data)
    result = take_in_cycle(landing, tmp_path / "archive", tmp_path / "quarantine", ctx, {}, RECEIVED)
    assert [a.received.file_name for a in result.accepted] == ["KEN_good.json"]
    frames = intake_frames(result, "2023")
    connection = duckdb.connect()
    for name, frame in frames.items():
        connection.register("frame", frame)
        connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")  # noqa: S608 - our own table names
        connection.unregister("frame")
    stored = connection.execute("SELECT comment FROM answers WHERE comment IS NOT NULL").fetchall()
    assert stored == [("r\u00e9vis\u00e9",)]
    reasons = dict(connection.execute("SELECT file_name, reason_code FROM rejections").fetchall())
    assert reasons == {
        "KEN_surrogate.json": "bad_text",
        "KEN_nul.json": "bad_text",
        "UGA_c1.csv": "bad_text",
        "FRA_bad.xlsx": "bad_text",
        "BRA_long.json": "text_too_long",
        "ARG_value.json": "bad_text",
    }
    for (message,) in connection.execute("SELECT message FROM rejections").fetchall():
        assert len(message) < 1000 and printable(message, 1000) == message


# 2. Numbers: finite, exact and within the plausible bounds of their item type ------------------------------


@pytest.mark.parametrize(
    "literal, code",
    [
        ("1e306", "value_out_of_bounds"),
        ("1e308", "value_out_of_bounds"),
        ("-1e300", "value_out_of_bounds"),
        ("1e-320", "value_out_of_bounds"),  # a denormal divisor makes a ratio infinite just as well
        ("10000000000001", "value_out_of_bounds"),  # one over a count's plausible maximum (1e13)
        ("1152921504606846976", "value_out_of_bounds"),  # 2**60: exact in a double, but no count is that large
        ("9007199254740993", "inexact_number"),  # 2**53 + 1: a double would round it to ...992
        ("123456789012345678901234567890", "inexact_number"),
        ("1.00000000000000001", "inexact_number"),
        ("1e400", "not_a_number"),  # beyond a double: infinity
    ],
)
def test_json_numbers_must_be_finite_exact_and_plausible(ctx, literal, code):
    data = json_file(answer={"value": "@@"}).replace(b'"@@"', literal.encode())
    outcome = read_file("KEN_numbers.json", data, ctx, received_at=RECEIVED)
    assert outcome.submission is None
    assert codes(outcome) == [code]
    problem = outcome.problems[0]
    assert problem.item == "declarations_electronic" and problem.year == 2022
    assert problem.location.pointer == "/answers/1"
    if code == "value_out_of_bounds":
        assert "1e+13" in problem.message and "2022" in problem.message and "/answers/1" in problem.message


@pytest.mark.parametrize("literal", ["10000000000000", "9007199254740992", "0.000001", "0", "1234.5"])
def test_numbers_at_the_bounds_and_exact_ones_are_kept(ctx, literal):
    data = json_file(answers=[{"item": "declarations_total", "year": 2022, "value": "@@"}]).replace(
        b'"@@"', literal.encode()
    )
    outcome = read_file("KEN.json", data, ctx, received_at=RECEIVED)
    if float(literal) > TYPE_BOUNDS[ItemType.count].max_abs:
        assert codes(outcome) == ["value_out_of_bounds"]
    else:
        assert outcome.submission is not None, outcome.problems
        assert outcome.submission.answers[0].value == float(literal)


def test_amounts_have_their_own_bound(ctx):
    answer = {"item": "import_value_total", "year": 2022}
    near = read_file("KEN.json", json_file(answers=[{**answer, "value": 5e14}]), ctx, received_at=RECEIVED)
    assert near.submission is not None and near.submission.answers[0].value == 5e14  # above a count's bound
    over = read_file("KEN.json", json_file(answers=[{**answer, "value": 2e15}]), ctx, received_at=RECEIVED)
    assert codes(over) == ["value_out_of_bounds"] and "1e+15" in over.problems[0].message


@pytest.mark.parametrize(
    "text, code",
    [
        ("9007199254740993", "inexact_number"),
        ("9 007 199 254 740 993", "inexact_number"),
        ("12345678901234567890", "inexact_number"),
        ("1e306", "value_out_of_bounds"),
        ("-1e300", "value_out_of_bounds"),
        ("1e400", "not_a_number"),
    ],
)
def test_csv_text_numbers_must_be_exact_and_plausible(ctx, text, code):
    outcome = read_file("KEN.csv", csv_file(csv_row(value=f'"{text}"')), ctx, received_at=RECEIVED)
    assert codes(outcome) == [code]
    assert outcome.problems[0].location.line == 2


@pytest.mark.parametrize(
    "value, code",
    [(1e306, "value_out_of_bounds"), (-1e300, "value_out_of_bounds"), ("9007199254740993", "inexact_number")],
)
def test_excel_number_cells_must_be_exact_and_plausible(ctx, template, value, code):
    if isinstance(value, str):  # openpyxl rounds what it writes: the digits are put in the sheet's XML by hand
        data = questionnaire(template, {"declarations_total": 9007199254740992})
        data = rezip(data, lambda xml: xml.replace(b"<v>9007199254740992</v>", f"<v>{value}</v>".encode()))
    else:
        data = questionnaire(template, {"declarations_total": value})
    outcome = read_file("KEN.xlsx", data, ctx, received_at=RECEIVED)
    assert codes(outcome) == [code]
    assert outcome.problems[0].location.sheet == "Answers"


def test_every_numeric_item_type_has_bounds_that_keep_aggregates_finite():
    """Bounds are declared once per type; 250 members at the extremes still give finite sums, squares and ratios."""
    numeric = [t for t in ItemType if t not in (ItemType.level, ItemType.yes_no)]
    assert all(t.bounds is not None for t in numeric)
    largest = max(t.bounds.max_abs for t in numeric)
    smallest = min(t.bounds.min_abs_nonzero for t in numeric)
    members = 250
    for aggregate in (
        members * largest,  # a sum
        members * (100 * largest / smallest) ** 2,  # a sum of squares of the largest ratio
        100 * (members * largest) / smallest,  # a pooled ratio
    ):
        assert math.isfinite(aggregate) and aggregate < 1e100
    assert all(t.bounds.max_abs <= 2**53 for t in numeric)  # every whole number up to a bound is exact


# 3. A submission needs at least one answer -----------------------------------------------------------------


def test_no_answer_at_all_is_rejected_in_every_format(ctx, template):
    assert codes(read_file("KEN.json", json_file(answers=[]), ctx, received_at=RECEIVED)) == ["no_answers"]
    blank = questionnaire(template, {})
    assert codes(read_file("KEN.xlsx", blank, ctx, received_at=RECEIVED)) == ["no_answers"]
    only_choices = csv_file("KEN,2023,2024-01-31T10:00:00Z,,,,,,electronic_declaration_rate,public")
    outcome = read_file("KEN.csv", only_choices, ctx, received_at=RECEIVED)
    assert codes(outcome) == ["no_answers"] and outcome.member_code == "KEN"
    not_applicable = json_file(answers=[{"item": "pca_controls_total", "year": 2022, "status": "not_applicable"}])
    assert read_file("KEN.json", not_applicable, ctx, received_at=RECEIVED).submission is not None


# 4. submitted_at between the opening and the receipt --------------------------------------------------------


def test_a_submission_dated_after_its_receipt_is_refused(ctx):
    late = RECEIVED + CLOCK_TOLERANCE + dt.timedelta(seconds=1)
    outcome = read_file("KEN.json", json_file(submitted_at=late.isoformat()), ctx, received_at=RECEIVED)
    assert codes(outcome) == ["bad_timestamp"]
    message = outcome.problems[0].message
    assert "later than the file was received" in message and "2024-02-01 12:00" in message
    assert outcome.problems[0].location.pointer == "/submitted_at"
    within = RECEIVED + CLOCK_TOLERANCE - dt.timedelta(seconds=1)  # a sender's clock a little fast
    assert read_file("KEN.json", json_file(submitted_at=within.isoformat()), ctx, received_at=RECEIVED).submission
    year_2099 = json_file(submitted_at="2099-01-01T00:00:00Z")
    assert codes(read_file("KEN.json", year_2099, ctx, received_at=RECEIVED)) == ["bad_timestamp"]
    assert read_file("KEN.json", year_2099, ctx).submission is not None  # no receipt time: no upper check


def test_a_submission_dated_before_the_collection_opened_is_refused(ctx):
    outcome = read_file("KEN.json", json_file(submitted_at="2023-11-30T23:00:00Z"), ctx, received_at=RECEIVED)
    assert codes(outcome) == ["bad_timestamp"]
    assert "before the collection of cycle 2023 opened (2023-12-01 00:00 UTC)" in outcome.problems[0].message
    ok = json_file(submitted_at="2023-11-30T23:55:00Z")  # five minutes early: within the clock tolerance
    assert read_file("KEN.json", ok, ctx, received_at=RECEIVED).submission is not None
    assert codes(read_file("KEN.json", json_file(submitted_at="1999-01-01T00:00:00Z"), ctx)) == ["bad_timestamp"]


def test_the_opening_is_midnight_in_the_cycles_time_zone(ctx):
    import zoneinfo

    auckland = dataclasses.replace(ctx, timezone=zoneinfo.ZoneInfo("Pacific/Auckland"))  # UTC+13 in December
    after_local_midnight = json_file(submitted_at="2023-11-30T12:00:00Z")  # 01:00 on 1 December in Auckland
    assert read_file("KEN.json", after_local_midnight, auckland, received_at=RECEIVED).submission is not None
    assert codes(read_file("KEN.json", after_local_midnight, ctx, received_at=RECEIVED)) == ["bad_timestamp"]


def test_the_fixture_files_and_the_sample_pass_the_timestamp_checks(ctx, reference, catalogue):
    expected = yaml.safe_load((FIXTURES / "expected.yaml").read_text())
    now = dt.datetime.now(dt.UTC)
    rejected = {}
    for path in sorted((FIXTURES / "landing").iterdir()):
        outcome = read_file(path.name, path.read_bytes(), ctx, received_at=now)
        if outcome.submission is None:
            rejected[path.name] = outcome.problems[0].code
    assert rejected == expected["rejections"]
    for cycle_id in ("2023", "2025"):
        cycle_ctx = validation_context(reference, catalogue, cycle_id)
        for document in build_sample_documents(reference, catalogue, cycle_id, members=40, seed=3):
            outcome = read_file(f"{document['member']}.json", render_json(document), cycle_ctx, received_at=now)
            assert outcome.submission is not None, (cycle_id, document["member"], outcome.problems[:3])


# 5. Bounded costs: problems, quotations, workbooks -----------------------------------------------------------


def test_problems_are_capped_with_one_saying_reading_stopped(ctx):
    bad = [{"item": f"no_such_item_{i}", "year": 2022, "value": 1} for i in range(500)]
    outcome = read_file("KEN.json", json_file(answers=bad), ctx, received_at=RECEIVED)
    assert len(outcome.problems) == DEFAULT_LIMITS.max_problems + 1
    assert [p.code for p in outcome.problems[:-1]] == ["unknown_item"] * DEFAULT_LIMITS.max_problems
    assert outcome.problems[-1].code == "too_many_problems" and "reading stopped" in outcome.problems[-1].message
    small = IntakeLimits(max_problems=5)
    rows = [csv_row(value="lots") for _ in range(50)]
    capped = read_file("KEN.csv", csv_file(*rows), ctx, small, received_at=RECEIVED)
    assert codes(capped) == ["not_a_number"] + ["duplicate_answer"] * 4 + ["too_many_problems"]


def test_a_rejected_files_reason_file_stays_small_whatever_its_size(ctx, tmp_path):
    huge_value = "9" * 20_000
    answers = [{"item": "declarations_total", "year": 2022, "value": [huge_value] * 2} for _ in range(300)]
    data = json_file(answers=answers)
    assert len(data) > 10_000_000
    outcome = read_file("KEN_big.json", data, ctx, received_at=RECEIVED)
    received = ReceivedFile("ab" * 32, "KEN_big.json", len(data), RECEIVED, None)
    path = quarantine(data, received, outcome.problems, tmp_path)
    reason = Path(f"{path}.reason.json")
    assert reason.stat().st_size < 200_000
    assert all(len(str(p.value)) < 300 for p in outcome.problems)


def test_file_content_quoted_in_messages_is_short_and_escaped(ctx):
    first_line = "root:x:0:0:root:/root:/bin/bash\x1b[2J" + "A" * 10_000
    outcome = read_file("KEN_passwd.csv", (first_line + "\nsecond line").encode(), ctx, received_at=RECEIVED)
    assert codes(outcome) == ["missing_column"]
    message = outcome.problems[0].message
    assert len(message) < 300 and "a" * 100 not in message.casefold()
    assert "\x1b" not in message and "\\x1b" in message
    assert "characters)" in message  # says it was cut
    long_value = json_file(answer={"value": "text " * 10_000})
    problems = read_file("KEN.json", long_value, ctx, received_at=RECEIVED).problems
    assert [p.code for p in problems] == ["text_too_long", "not_a_number"]
    assert all(len(p.message) < 300 and len(str(p.value)) < 300 for p in problems)


def test_quote_and_printable_escape_and_cut():
    assert quote("abc") == "'abc'"
    assert quote("x" * 100).endswith("…' (100 characters)") and len(quote("x" * 100)) < 90
    assert printable("a\nb\u202ec\ud800") == "a\\x0ab\\u202ec\\ud800"
    assert printable("1\u00a0234") == "1\u00a0234"  # a no-break space is shown, not escaped
    assert printable("é" * 300, 10) == "é" * 10 + "… (300 characters)"
    assert normalise(" e\u0301\r\n ") == "\u00e9"
    message = Problem("x", "line\nbreak " + "z" * 5000).message
    assert "\n" not in message and len(message) < 600


def _formula_workbook(rows: int, columns: int) -> bytes:
    """A flat-export workbook whose cells hold `rows * columns` formulas without saved values, written by hand."""
    header = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for i, name in enumerate(["member", "cycle", "submitted_at", "item", "year", "value"])
    )
    letters = [openpyxl.utils.get_column_letter(c) for c in range(1, columns + 1)]

    def row_xml(r: int) -> str:
        return f'<row r="{r}">' + "".join(f'<c r="{x}{r}"><f>{c}</f></c>' for c, x in enumerate(letters, 1)) + "</row>"

    body = [row_xml(r) for r in range(2, rows + 2)]
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        f'<row r="1">{header}</row>{"".join(body)}</sheetData></worksheet>'
    )
    workbook = openpyxl.Workbook()
    base = io.BytesIO()
    workbook.save(base)
    source = zipfile.ZipFile(io.BytesIO(base.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            content = sheet.encode() if info.filename == "xl/worksheets/sheet1.xml" else source.read(info)
            target.writestr(info.filename, content)
    return out.getvalue()


class _CountingStream:
    """A sheet part's stream that counts the bytes the XML parser takes from it."""

    def __init__(self, stream, counter: list[int]):
        self.stream, self.counter = stream, counter

    def read(self, size=-1):
        data = self.stream.read(size)
        self.counter[0] += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stream.close()


def test_a_workbook_of_hundreds_of_thousands_of_formulas_stops_being_read_early(ctx, monkeypatch):
    """The issue's 1 MB workbook of 450 000 formula cells took 15 s and gave 36 000 problems."""
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    data = _formula_workbook(rows=9_000, columns=50)  # 450 000 formulas without a saved value, no <dimension>
    sheet_bytes = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml").file_size
    assert len(data) < DEFAULT_LIMITS.max_file_bytes and sheet_bytes < DEFAULT_LIMITS.max_uncompressed_bytes
    read = [0]
    original = ReadOnlyWorksheet._get_source
    monkeypatch.setattr(ReadOnlyWorksheet, "_get_source", lambda self: _CountingStream(original(self), read))
    outcome = read_file("KEN_formulas.xlsx", data, ctx, received_at=RECEIVED)
    assert codes(outcome) == ["too_many_problems"]
    stopped_at = outcome.problems[0].location
    assert stopped_at.sheet == "Sheet" and stopped_at.cell == "A4"  # the 101st formula: rows 2 and 3 hold 100
    # Opening the workbook (twice: formulas, then cached values) and reading three rows parse a few
    # blocks of the sheet, never the whole of it (openpyxl alone scanned it all for its dimension).
    assert read[0] < sheet_bytes / 10, f"{read[0]} of {sheet_bytes} bytes of the sheet were parsed"


def test_a_workbook_with_more_cells_than_the_limit_stops_at_the_limit(ctx):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["member", "cycle", "submitted_at", "item", "year", "value"])
    for _ in range(400):
        sheet.append(["KEN", "2023", "2024-01-31T10:00:00Z", "declarations_total", 2022, 1])
    out = io.BytesIO()
    workbook.save(out)
    outcome = read_file("KEN_cells.xlsx", out.getvalue(), ctx, IntakeLimits(max_cells=600), received_at=RECEIVED)
    assert codes(outcome) == ["too_many_cells"]
    assert "600" in outcome.problems[0].message and "cell" in outcome.problems[0].message


def test_a_few_formulas_without_value_are_each_reported_and_cached_ones_read(ctx, template):
    data = questionnaire(template, {"declarations_total": "=1+1", "declarations_electronic": "=2+2"})
    outcome = read_file("KEN_f.xlsx", data, ctx, received_at=RECEIVED)
    assert codes(outcome) == ["formula_without_value", "formula_without_value"]


def test_intake_limits_are_settings_and_resource_fields():
    env = {"PMM_MAX_PROBLEMS": "7", "PMM_MAX_TEXT_LENGTH": "50", "PMM_MAX_CELLS": "900"}
    limits = Settings.from_env(env).intake_limits
    assert (limits.max_problems, limits.max_text_length, limits.max_cells) == (7, 50, 900)
    assert PmmStorage.from_limits("/tmp/x", limits).intake_limits == limits
    with pytest.raises(ValueError, match="PMM_MAX_PROBLEMS"):
        Settings.from_env({"PMM_MAX_PROBLEMS": "0"})


# 6. The content decides the member ------------------------------------------------------------------------


def test_a_file_name_alone_credits_nobody(ctx):
    unknown = read_file("KEN_x.json", json_file(member="XXX"), ctx, received_at=RECEIVED)
    assert codes(unknown) == ["unknown_member"] and unknown.member_code is None
    missing = json.loads(json_file())
    del missing["member"]
    none = read_file("KEN_x.json", json.dumps(missing).encode(), ctx, received_at=RECEIVED)
    assert none.submission is None and none.member_code is None
    assert read_file("KEN_x.json", b"root:x:0:0", ctx).member_code is None
    assert read_file("KEN_x.json", b"", ctx).member_code is None
    assert read_file("KEN_x.pdf", b"%PDF", ctx).member_code is None
    other = read_file("KEN_x.json", json_file(member="UGA"), ctx, received_at=RECEIVED)
    assert codes(other) == ["member_mismatch"] and other.member_code == "UGA"


def test_a_json_file_over_the_row_limit_is_credited_to_its_content(ctx):
    choices = {f"kpi_{i}": "public" for i in range(DEFAULT_LIMITS.max_rows + 1)}
    outcome = read_file("XXX_many.json", json_file(disclosure=choices), ctx, received_at=RECEIVED)
    assert codes(outcome) == ["too_many_rows"] and "disclosure choices" in outcome.problems[0].message
    assert outcome.member_code == "KEN"


def test_a_questionnaire_rejected_while_read_is_credited_to_its_stamp(ctx, template):
    workbook = openpyxl.load_workbook(io.BytesIO(template))
    workbook.worksheets[1].cell(10_005, 7, "x")
    out = io.BytesIO()
    workbook.save(out)
    outcome = read_file("UGA_far.xlsx", out.getvalue(), ctx, received_at=RECEIVED)
    assert codes(outcome) == ["too_many_rows"] and outcome.member_code == "KEN"


# Any content at all: read_file never raises, and what it accepts can be stored and summed ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402 - kept beside the property tests that use them
from hypothesis import strategies as st  # noqa: E402

from pmm_pipeline.stages.ingestion.text import first_unstorable  # noqa: E402

ANY_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),  # mostly storable text
    st.text(st.characters(blacklist_categories=()), max_size=30),  # surrogates and controls included
)
ANY_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e306, -1e300, 5e-324, 9007199254740993, 2**53, 1e13, 1e15, 0.1]),
)
ITEMS = st.sampled_from(["declarations_total", "declarations_electronic", "import_value_total", "aeo_count"])


def _strings(value, found: list[str]) -> list[str]:
    if isinstance(value, str):
        found.append(value)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            _strings(getattr(value, f.name), found)
    elif isinstance(value, dict):
        for k, v in value.items():
            _strings(k, found)
            _strings(v, found)
    elif isinstance(value, list | tuple):
        for v in value:
            _strings(v, found)
    return found


def _check_outcome(outcome, ctx) -> None:
    assert len(outcome.problems) <= DEFAULT_LIMITS.max_problems + 1
    for problem in outcome.problems:
        assert len(problem.message) <= 600 and printable(problem.message, 600) == problem.message
        json.dumps(problem.as_dict(), ensure_ascii=False).encode("utf-8")
    if outcome.submission is None:
        return
    for text in _strings(outcome.submission, []):
        assert first_unstorable(text) is None and text == normalise(text), repr(text)
        assert len(text) <= DEFAULT_LIMITS.max_text_length
        text.encode("utf-8")  # what DuckDB and every writer need
    for answer in outcome.submission.answers:
        if answer.value is not None and answer.value_text is None:
            bounds = ctx.items[answer.item].type.bounds
            assert math.isfinite(answer.value)
            assert answer.value == 0 or bounds.min_abs_nonzero <= abs(answer.value) <= bounds.max_abs


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LIKELY = {"member": st.sampled_from(["KEN", " KEN ", "KEN"]), "time": st.just("2024-01-31T10:00:00Z")}


def _mutated(changes: dict) -> dict:
    """The valid DOCUMENT with some of its places replaced by arbitrary content."""
    document = copy.deepcopy(DOCUMENT)
    answers, disclosure = document["answers"], document["disclosure"]
    for place, content in changes.items():
        if place in ("member", "cycle", "submitted_at"):
            document[place] = content
        elif place in ("value_0", "value_1", "comment_1", "item_0"):
            field, index = place.rsplit("_", 1)
            answers[int(index)][field] = content
        elif place == "disclosure_value":
            disclosure["electronic_declaration_rate"] = content
        elif place == "disclosure_key":
            disclosure[str(content)] = "wco"
    return document


PLACES = st.sampled_from(
    ["member", "cycle", "submitted_at", "value_0", "value_1", "comment_1", "item_0"]
    + ["disclosure_value", "disclosure_key"]
)


@PROPERTY_SETTINGS
@given(changes=st.dictionaries(PLACES, st.one_of(ANY_TEXT, ANY_NUMBER, st.datetimes().map(str)), max_size=2))
def test_any_json_content_is_read_without_raising_and_kept_only_when_storable(ctx, changes):
    document = _mutated(changes)
    outcome = read_file("KEN_any.json", json.dumps(document).encode(), ctx, received_at=RECEIVED)
    _check_outcome(outcome, ctx)
    if outcome.member_code is not None:  # only ever the member the content names
        assert outcome.member_code == str(document["member"]).strip()


CSV_CELL = st.one_of(st.just(""), ANY_TEXT, ANY_NUMBER.map(str))


@PROPERTY_SETTINGS
@given(
    rows=st.lists(st.tuples(ITEMS, CSV_CELL, st.sampled_from(["", "reported", "n/a"]), CSV_CELL), max_size=4),
    choices=st.lists(st.tuples(st.one_of(st.just("aeo_count_variation"), ANY_TEXT), CSV_CELL), max_size=2),
    member=st.one_of(LIKELY["member"], ANY_TEXT),
)
def test_any_csv_content_is_read_without_raising_and_kept_only_when_storable(ctx, rows, choices, member):
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER.split(","))
    head = [member.replace("\x00", ""), "2023", "2024-01-31T10:00:00Z"]
    for item, value, status, comment in {row[0]: row for row in rows}.values():
        writer.writerow([*head, item, "2022", value, status, comment, "", ""])
    for kpi, level in choices:
        writer.writerow([*head, "", "", "", "", "", kpi, level])
    data = out.getvalue().replace("\x00", "").encode("utf-8", errors="surrogatepass")
    outcome = read_file("KEN_any.csv", data, ctx, received_at=RECEIVED)
    _check_outcome(outcome, ctx)
    if outcome.member_code is not None:
        assert outcome.member_code == member.strip()
