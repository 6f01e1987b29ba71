"""Excel questionnaires and flat CSV exports ingest exactly like the same content in JSON, typed the way people type."""

import copy
import datetime as dt
import io
import json

import openpyxl
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.numbers import NotANumber, parse_number_text
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.questionnaire.template import render_questionnaire

# Members of each questionnaire language in the shipped members.csv (checked in test_members_languages).
MEMBERS = {"en": ["KEN", "GBR"], "fr": ["FRA", "SEN"], "es": ["ARG", "ESP"]}

DOCUMENT = {
    "format": "pmm-submission",
    "format_version": 1,
    "cycle": "2023",
    "submitted_at": "2024-01-31T10:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 1200345},
        {"item": "declarations_electronic", "year": 2022, "value": 1190000, "status": "reported"},
        {"item": "aeo_count", "year": 2022, "value": 44},
        {"item": "aeo_count", "year": 2021, "value": 40, "comment": "revised figure"},
        {"item": "pca_controls_total", "year": 2022, "status": "not_applicable", "comment": "no PCA unit"},
        {"item": "rfi_count", "year": 2021, "status": "not_available"},
        {"item": "import_value_total", "year": 2022, "value": 2500000.75},
        {"item": "single_window_level", "year": 2022, "value": "partially_implemented"},
        {"item": "strategic_plan_adopted", "year": 2022, "value": "yes"},
    ],
    "disclosure": {
        "electronic_declaration_rate": "public",
        "aeo_count_variation": "wco",
        "rfi_variation": "secretariat",
    },
}


@pytest.fixture(scope="module")
def world():
    settings = Settings.from_env({})
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    return reference, catalogue, validation_context(reference, catalogue, "2023")


def staged(submission):
    return sorted((a.item, a.year, a.status, a.value, a.value_text, a.comment) for a in submission.answers)


def fill_questionnaire(data: bytes, document: dict, lang: str) -> bytes:
    """What a member's program does: find rows by item code and year, write value, status, comment."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    cover, answers, disclosure = workbook.worksheets[:3]
    for row in cover.iter_rows():
        if row[0].value == "pmm:submitted_at":
            row[2].value = dt.datetime.fromisoformat(document["submitted_at"].replace("Z", ""))
    wanted = {(a["item"], a["year"]): a for a in document["answers"]}
    for row in answers.iter_rows(min_row=5):
        answer = wanted.pop((row[0].value, row[3].value), None)
        if answer is None:
            continue
        row[4].value = answer.get("value")
        row[5].value = answer.get("status")
        row[6].value = answer.get("comment")
    assert not wanted, f"rows not found in the {lang} questionnaire: {sorted(wanted)}"
    for row in disclosure.iter_rows(min_row=5):
        if row[0].value in document["disclosure"]:
            row[3].value = document["disclosure"][row[0].value]
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_members_languages(world):
    reference, _, _ = world
    cycle = reference.cycles.get("2023")
    in_force = reference.members_in_force(cycle)
    for lang, members in MEMBERS.items():
        assert [in_force[m].language for m in members] == [lang] * len(members)


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_questionnaire_filled_by_a_program_ingests_like_json(world, lang):
    reference, catalogue, ctx = world
    for member in MEMBERS[lang]:
        document = {**copy.deepcopy(DOCUMENT), "member": member}
        from_json = read_file(f"{member}.json", json.dumps(document).encode(), ctx)
        assert from_json.problems == []
        template = render_questionnaire(catalogue, reference, "2023", member, lang)
        from_xlsx = read_file(f"{member}_2023.xlsx", fill_questionnaire(template, document, lang), ctx)
        assert from_xlsx.problems == []
        assert from_xlsx.submission.member_code == member
        assert staged(from_xlsx.submission) == staged(from_json.submission)
        assert from_xlsx.submission.disclosure == document["disclosure"]
        assert from_xlsx.submission.submitted_at == dt.datetime(2024, 1, 31, 10, tzinfo=dt.UTC)
        assert from_xlsx.submission.format == "xlsx"


def test_questionnaire_answers_name_their_sheet_and_cell(world):
    reference, catalogue, ctx = world
    document = {**copy.deepcopy(DOCUMENT), "member": "FRA"}
    data = fill_questionnaire(render_questionnaire(catalogue, reference, "2023", "FRA", "fr"), document, "fr")
    answers = {(a.item, a.year): a.location for a in read_file("FRA.xlsx", data, ctx).submission.answers}
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Réponses"]
    for (item, year), location in answers.items():
        assert location.sheet == "Réponses"
        row = sheet[location.cell].row
        assert (sheet.cell(row, 1).value, sheet.cell(row, 4).value) == (item, year)
        assert location.cell.startswith("E")


def test_people_typing_in_a_questionnaire(world):
    """Text numbers in the member's locale, % on a percent-formatted cell, trailing spaces, translated choices."""
    reference, catalogue, ctx = world
    data = render_questionnaire(catalogue, reference, "2023", "FRA", "fr")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    answers, disclosure = workbook["Réponses"], workbook["Diffusion"]
    typed = {
        ("declarations_total", 2022): ("1 200 345 ", None),
        ("declarations_electronic", 2022): ("1.190.000", "Déclaré [reported]"),
        ("import_value_total", 2022): ("2 500 000,75", None),
        ("pca_controls_total", 2022): (None, "Sans objet"),
        ("single_window_level", 2022): ("Partiellement mis en œuvre (certaines administrations ou procédures)", None),
    }
    for row in answers.iter_rows(min_row=5):
        if (row[0].value, row[3].value) in typed:
            row[4].value, row[5].value = typed[(row[0].value, row[3].value)]
    for row in disclosure.iter_rows(min_row=5):
        if row[0].value == "electronic_declaration_rate":
            row[3].value = "Membres de l'OMD [wco]"
    out = io.BytesIO()
    workbook.save(out)
    outcome = read_file("FRA_typed.xlsx", out.getvalue(), ctx)
    assert outcome.problems == []
    got = {(a.item, a.year): (a.status, a.value, a.value_text) for a in outcome.submission.answers}
    assert got == {
        ("declarations_total", 2022): ("reported", 1200345.0, None),
        ("declarations_electronic", 2022): ("reported", 1190000.0, None),
        ("import_value_total", 2022): ("reported", 2500000.75, None),
        ("pca_controls_total", 2022): ("not_applicable", None, None),
        ("single_window_level", 2022): ("reported", 1.0, "partially_implemented"),
    }
    assert outcome.submission.disclosure == {"electronic_declaration_rate": "wco"}


def test_formulas_use_cached_values_and_are_rejected_without_one(world):
    reference, catalogue, ctx = world
    data = render_questionnaire(catalogue, reference, "2023", "KEN", "en")
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    answers = workbook["Answers"]
    for row in answers.iter_rows(min_row=5):
        if row[0].value == "declarations_total":
            row[4].value = "=1000+200"  # openpyxl saves no cached value, as a program would
            cell = row[4].coordinate
    out = io.BytesIO()
    workbook.save(out)
    outcome = read_file("KEN_formula.xlsx", out.getvalue(), ctx)
    assert [(p.code, p.location.cell) for p in outcome.problems] == [("formula_without_value", cell)]

    # The same cell with the value Excel caches when it saves: patch the sheet XML like Excel writes it.
    import re
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    patched = io.BytesIO()
    with zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet2.xml":
                content = re.sub(rb"<f>1000\+200</f><v\s*/>|<f>1000\+200</f>", b"<f>1000+200</f><v>1200</v>", content)
            target.writestr(info, content)
    outcome = read_file("KEN_formula_cached.xlsx", patched.getvalue(), ctx)
    assert outcome.problems == []
    assert [a.value for a in outcome.submission.answers if a.item == "declarations_total"] == [1200.0]


CSV_HEADER = "member,cycle,submitted_at,item,year,value,status,comment,kpi,disclosure"
CSV_ROWS = [
    "KEN,2023,2024-01-31T10:00:00Z,declarations_total,2022,1200345,,,,",
    "KEN,2023,2024-01-31T10:00:00Z,aeo_count,2021,40,,revised figure,,",
    "KEN,2023,2024-01-31T10:00:00Z,pca_controls_total,2022,,not_applicable,no PCA unit,,",
    "KEN,2023,2024-01-31T10:00:00Z,,,,,,electronic_declaration_rate,public",
]
CSV_EXPECTED = [
    ("aeo_count", 2021, "reported", 40.0, None, "revised figure"),
    ("declarations_total", 2022, "reported", 1200345.0, None, None),
    ("pca_controls_total", 2022, "not_applicable", None, None, "no PCA unit"),
]


def test_flat_csv_ingests_with_line_numbers(world):
    _, _, ctx = world
    outcome = read_file("KEN_2023.csv", "\n".join([CSV_HEADER, *CSV_ROWS]).encode(), ctx)
    assert outcome.problems == []
    assert staged(outcome.submission) == CSV_EXPECTED
    assert {a.item: a.location.line for a in outcome.submission.answers} == {
        "declarations_total": 2,
        "aeo_count": 3,
        "pca_controls_total": 4,
    }
    assert outcome.submission.disclosure == {"electronic_declaration_rate": "public"}


def _semicolon(line: str) -> str:
    return line.replace(",", ";")


CSV_VARIANTS = {
    "utf8_bom_crlf": ("\ufeff" + "\r\n".join([CSV_HEADER, *CSV_ROWS])).encode("utf-8"),
    "semicolons_windows_1252": "\r\n".join(map(_semicolon, [CSV_HEADER, *CSV_ROWS]))
    .replace("revised figure", "révisé")
    .encode("cp1252"),
    "utf16_tabs": "\n".join(line.replace(",", "\t") for line in [CSV_HEADER, *CSV_ROWS]).encode("utf-16"),
    "utf16_le_without_bom": "\n".join([CSV_HEADER, *CSV_ROWS]).encode("utf-16-le"),
    "reordered_extra_blank_spaces": "\n".join(
        [
            "Comment , YEAR,exported_by, item ,value,member,cycle,submitted_at,status,kpi,disclosure",
            "revised figure,2021,platform,aeo_count,40 ,KEN ,2023,2024-01-31T10:00:00Z,,,",
            ",,,,,,,,,,",
            ',2022,platform,declarations_total,"1,200,345",KEN,2023,2024-01-31T10:00:00Z,reported ,,',
            "",
            "no PCA unit,2022,platform,pca_controls_total,,KEN,2023,2024-01-31T10:00:00Z,Not applicable,,",
            ",,platform,,,KEN,2023,2024-01-31T10:00:00Z,,electronic_declaration_rate,Public [public]",
        ]
    ).encode(),
}


@pytest.mark.parametrize("variant", sorted(CSV_VARIANTS))
def test_csv_variants_give_the_same_answers(world, variant):
    _, _, ctx = world
    outcome = read_file(f"KEN_{variant}.csv", CSV_VARIANTS[variant], ctx)
    assert outcome.problems == []
    expected = CSV_EXPECTED
    if variant == "semicolons_windows_1252":
        expected = [e if e[0] != "aeo_count" else (*e[:5], "révisé") for e in CSV_EXPECTED]
    assert staged(outcome.submission) == expected
    assert outcome.submission.disclosure == {"electronic_declaration_rate": "public"}


@pytest.mark.parametrize(
    "text,mark,expected",
    [
        ("1234", None, 1234.0),
        ("1 234,5", None, 1234.5),
        ("1\u00a0234,5", None, 1234.5),
        ("1.234,5", None, 1234.5),
        ("1,234.5", None, 1234.5),
        ("1.234.567", None, 1234567.0),
        ("1,234,567", None, 1234567.0),
        ("12,5", None, 12.5),
        ("0,125", None, 0.125),
        ("1234,567", None, 1234.567),
        ("-3", None, -3.0),
        ("1.5E3", None, 1500.0),
        ("1,234", ".", 1234.0),
        ("1,234", ",", 1.234),
        ("1.234", ",", 1234.0),
        ("1.234", ".", 1.234),
        (" 45 % ", None, 45.0),
    ],
)
def test_number_text(text, mark, expected):
    parsed = parse_number_text(text, mark)
    assert not isinstance(parsed, NotANumber) and parsed.value == expected


@pytest.mark.parametrize("text", ["abc", "1,2,3", "1.23.4", "12 34", "", "1..2", "1,234,5.6.7", "--1"])
def test_not_numbers(text):
    parsed = parse_number_text(text, ".")
    assert isinstance(parsed, NotANumber) and parsed.code == "not_a_number"


def test_ambiguous_numbers_are_reported_not_guessed(world):
    _, _, ctx = world
    assert parse_number_text("1,234", None).code == "ambiguous_number"
    # An English-speaking member's '1.234' for a count reads as 1.234 by its locale: not a whole number.
    rows = [CSV_HEADER, "KEN,2023,2024-01-31T10:00:00Z,declarations_total,2022,1.234,,,,"]
    outcome = read_file("KEN_ambiguous.csv", "\n".join(rows).encode(), ctx)
    assert [(p.code, p.location.line, p.item) for p in outcome.problems] == [
        ("ambiguous_number", 2, "declarations_total")
    ]
    # ... while '1,234' is 1234 in that locale and '1.234' is 1234 for a French-speaking member.
    rows[1] = 'KEN,2023,2024-01-31T10:00:00Z,declarations_total,2022,"1,234",,,,'
    assert staged(read_file("KEN_thousands.csv", "\n".join(rows).encode(), ctx).submission)[0][3] == 1234.0
    rows = [_semicolon(CSV_HEADER), "FRA;2023;2024-01-31T10:00:00Z;declarations_total;2022;1.234;;;;"]
    assert staged(read_file("FRA.csv", "\n".join(rows).encode(), ctx).submission)[0][3] == 1234.0


def test_percent_sign_on_a_count_is_not_a_number(world):
    _, _, ctx = world
    rows = [CSV_HEADER, "KEN,2023,2024-01-31T10:00:00Z,declarations_total,2022,98%,,,,"]
    assert [p.code for p in read_file("KEN_pct.csv", "\n".join(rows).encode(), ctx).problems] == ["not_a_number"]


def test_json_keeps_requiring_real_numbers(world):
    _, _, ctx = world
    document = {**copy.deepcopy(DOCUMENT), "member": "KEN"}
    document["answers"][0]["value"] = "1200345"
    assert [p.code for p in read_file("KEN.json", json.dumps(document).encode(), ctx).problems] == ["not_a_number"]


def test_flat_export_saved_as_xlsx(world):
    _, _, ctx = world
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "export"
    sheet.append(["Exported from the collection platform"])
    for line in [CSV_HEADER, *CSV_ROWS]:
        sheet.append([int(v) if v.isdigit() else (v or None) for v in line.split(",")])
    out = io.BytesIO()
    workbook.save(out)
    outcome = read_file("KEN_export.xlsx", out.getvalue(), ctx)
    assert outcome.problems == []
    assert staged(outcome.submission) == CSV_EXPECTED
    assert {a.item: a.location.cell for a in outcome.submission.answers}["aeo_count"] == "F4"


def test_sample_writes_every_format_and_each_ingests(world, tmp_path):
    from pmm_pipeline.stages.ingestion.intake import take_in_cycle
    from pmm_pipeline.stages.sample.documents import build_sample_documents, latest_documents
    from pmm_pipeline.stages.sample.generate import generate_sample

    reference, catalogue, ctx = world
    generate_sample(
        reference, catalogue, "2023", tmp_path / "landing", members=12, seed=4, formats=("json", "xlsx", "csv")
    )
    result = take_in_cycle(tmp_path / "landing", tmp_path / "archive", tmp_path / "q", ctx, {}, dt.datetime.now(dt.UTC))
    assert result.rejected == []
    assert {a.submission.format for a in result.accepted} == {"json", "xlsx", "csv"}
    documents = latest_documents(build_sample_documents(reference, catalogue, "2023", members=12, seed=4))
    latest = {}
    for accepted in result.accepted:
        s = accepted.submission
        if s.member_code not in latest or s.submitted_at > latest[s.member_code].submitted_at:
            latest[s.member_code] = s
    for member, document in documents.items():
        from_json = read_file("x.json", json.dumps(document).encode(), ctx).submission
        assert staged(latest[member]) == staged(from_json), member
        assert latest[member].disclosure == from_json.disclosure
