"""The HTML report on hand-made tables (report_inputs.py): self-contained, audited when read back.

The released report of a real run is drawn in headless Chromium in test_publication_formats.py.
"""

import json
from pathlib import Path

import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.stages.publishing.report import render_report, report_file
from pmm_pipeline.stages.publishing.report_read import read_report
from pmm_pipeline_tests.paths import ARTIFACTS
from pmm_pipeline_tests.stages.publishing.chromium_checks import chromium, overlapping
from pmm_pipeline_tests.stages.publishing.report_inputs import GROUP_NAMES, MEMBER_NAMES, context, tables

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    paths = {lang: folder / report_file(lang) for lang in LANGUAGES}
    for lang, path in paths.items():
        path.write_text(render_report(tables(), context(lang), ["kpi_values.csv"]), encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def report(reports) -> Path:
    return reports["en"]


def test_report_is_self_contained_and_reads_back_as_its_tables(report: Path):
    text = report.read_text()
    assert "cdn" not in text.lower().split("<script>", 1)[0]  # nothing fetched by the head
    assert "<script src=" not in text and "<link" not in text
    assert "@media print" in text
    assert "100 * declarations_electronic[T] / declarations_total[T]" in text  # methodology from the spec
    assert "n=3 of N=4 (withheld)" in text
    embedded, problems = read_report(report)
    assert problems == []
    assert sorted(embedded["kpi_values"].member_code) == ["FRA", "KEN", "KEN"]
    assert embedded["rollups"]["mean"].isna().tolist() == [True, False, False]


def test_a_charted_number_outside_the_tables_is_a_problem(report: Path, tmp_path: Path):
    tampered = tmp_path / "report.html"
    tampered.write_text(report.read_text().replace('"x": [95.0, 100.0]', '"x": [75.0, 100.0]'))
    _, problems = read_report(tampered)
    assert problems and "draws 75.0" in problems[0]


def test_a_charted_member_without_a_value_in_the_tables_is_a_problem(report: Path, tmp_path: Path):
    tampered = tmp_path / report.name
    text = report.read_text()
    assert '"customdata": ["KEN", "FRA"]' in text  # sorted by value: KEN 95 below FRA 100
    tampered.write_text(text.replace('"customdata": ["KEN", "FRA"]', '"customdata": ["DEU", "FRA"]'))
    _, problems = read_report(tampered)
    assert any("names DEU" in p for p in problems), problems


def test_a_report_whose_page_language_is_not_its_file_names_is_a_problem(reports, tmp_path: Path):
    tampered = tmp_path / "report_fr.html"
    tampered.write_text(reports["es"].read_text())
    assert read_report(reports["fr"])[1] == []
    _, problems = read_report(tampered)
    assert any("declares language ['es']" in p for p in problems), problems


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_report_declares_its_language_and_uses_human_labels(reports, lang):
    """Names from the catalogue and reference data, texts from the gettext catalogue; no raw code as a label."""
    import html
    import re

    from pmm_pipeline.stages.publishing.formats import STATUS_LABELS
    from pmm_pipeline.stages.publishing.i18n import translator

    text = reports[lang].read_text()
    assert text.startswith(f'<!DOCTYPE html>\n<html lang="{lang}">')
    body = html.unescape(re.sub(r"<script.*?</script>", "", text.split("</head>", 1)[1], flags=re.S))
    kpi = load_catalogue(Settings.from_env({}).specs_dir).kpis["electronic_declaration_rate"]
    _ = translator(lang)
    for expected in (
        kpi.names.in_language(lang),
        GROUP_NAMES[("region", "ESA")][lang],
        STATUS_LABELS[lang]["not_applicable"],
        _("Key findings by dimension"),
        _("a minimum, maximum or median would be the value of a member hidden from this tier").format(),
    ):
        assert expected in body, (lang, expected)
    cells = re.findall(r"<td>([^<]*)</td>", body)
    assert not {"global", "region", "mean:differencing;min:hidden_member;pooled:differencing"} & set(cells)
    figures = [json.loads(f) for f in re.findall(r"class='pmm-figure'[^>]*>(.*?)</script>", text, re.S)]
    members = next(f for f in figures if f["data"][0].get("customdata") == ["KEN", "FRA"])
    assert members["data"][0]["y"] == [f"{MEMBER_NAMES[c][lang]} ({c})" for c in ("KEN", "FRA")]
    if lang != "en":
        assert _("Key findings by dimension") != "Key findings by dimension"


# Bounding boxes of every chart's axis labels and bar texts, per chart, as Chromium laid them out.
LABEL_BOXES_JS = """
() => Array.from(document.querySelectorAll('.chart')).map(chart => ({
  id: chart.id,
  drawn: chart.querySelectorAll('.main-svg').length > 0 && chart.querySelectorAll('.point').length > 0,
  labels: Array.from(chart.querySelectorAll('.ytick text, .bartext')).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height};
  }).filter(b => b.w > 0 && b.h > 0),
  box: (() => { const b = chart.getBoundingClientRect(); return {x: b.x, w: b.width}; })(),
}))
"""


def test_chromium_draws_each_language_report_with_labels_that_do_not_overlap(reports, tmp_path):
    """Every chart drawn, its member and group labels and bar texts clear of each other and inside the chart."""
    playwright = pytest.importorskip("playwright.sync_api")
    browser_path = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            for lang, path in reports.items():
                page.goto(path.as_uri())
                page.wait_for_selector(".chart .main-svg")
                charts = page.evaluate(LABEL_BOXES_JS)
                assert charts and all(c["drawn"] for c in charts), (lang, [c["id"] for c in charts if not c["drawn"]])
                for chart in charts:
                    assert chart["labels"], (lang, chart["id"])
                    assert overlapping(chart["labels"]) == [], (lang, chart["id"])
                    left, right = chart["box"]["x"], chart["box"]["x"] + chart["box"]["w"]
                    clipped = [b["text"] for b in chart["labels"] if b["x"] < left - 1 or b["x"] + b["w"] > right + 1]
                    assert clipped == [], (lang, chart["id"])
                shot = ARTIFACTS / f"report_{lang}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                members = ARTIFACTS / f"report_{lang}_members_chart.png"
                page.locator("[id^=members-]").first.screenshot(path=str(members))
                assert members.stat().st_size > 2_000
        finally:
            browser.close()


def test_overlapping_finds_labels_that_meet_and_only_those():
    a = {"text": "a", "x": 0, "y": 0, "w": 50, "h": 10}
    assert overlapping([a, {"text": "b", "x": 40, "y": 5, "w": 50, "h": 10}]) == [("a", "b")]
    assert overlapping([a, {"text": "c", "x": 0, "y": 12, "w": 50, "h": 10}]) == []


def test_workbooks_name_members_groups_and_reasons_in_their_language_and_still_read_back(tmp_path):
    import openpyxl

    from pmm_pipeline.stages.publishing.excel import HEADERS, SHEETS, read_excel, write_excel
    from pmm_pipeline.stages.publishing.formats import ReaderNames
    from pmm_pipeline.stages.publishing.i18n import translator
    from pmm_pipeline.stages.publishing.report import reasons_in_words

    names = ReaderNames(members=MEMBER_NAMES, groups=GROUP_NAMES, reasons=reasons_in_words(3))
    for lang in LANGUAGES:
        path = tmp_path / f"tables_{lang}.xlsx"
        write_excel(tables(), path, lang, "2023", "public", {}, names)
        book = openpyxl.load_workbook(path, read_only=True)
        rows = list(book[SHEETS[lang]["rollups"]].iter_rows(values_only=True))
        column = {h: i for i, h in enumerate(rows[0])}
        groups = [r[column[HEADERS[lang]["group_name"]]] for r in rows[1:]]
        assert GROUP_NAMES[("region", "ESA")][lang] in groups
        reasons = [r[column[HEADERS[lang]["reason_text"]]] for r in rows[1:]]
        hidden = translator(lang)("a minimum, maximum or median would be the value of a member hidden from this tier")
        assert reasons[0] and hidden in reasons[0] and "hidden_member" not in reasons[0]
        values = list(book[SHEETS[lang]["kpi_values"]].iter_rows(values_only=True))
        member = values[0].index(HEADERS[lang]["member_name"])
        assert {r[member] for r in values[1:]} == {MEMBER_NAMES["KEN"][lang], MEMBER_NAMES["FRA"][lang]}
        book.close()
        back = read_excel(path)
        assert sorted(back["kpi_values"].member_code) == ["FRA", "KEN", "KEN"]
        assert back["rollups"].suppression_reason.iloc[0] == tables()["rollups"].suppression_reason.iloc[0]


def test_trends_draw_each_comparable_stretch_as_its_own_line_with_the_break_marked(report: Path, tmp_path: Path):
    import re

    text = report.read_text()
    figures = [json.loads(f) for f in re.findall(r"class='pmm-figure' data-div='trend-[^']*'>(.*?)</script>", text)]
    rate = next(f for f in figures if "Electronic" in f["layout"]["title"]["text"] or "electr" in str(f).lower())
    assert [t["x"] for t in rate["data"]] == [["2019"], ["2021", "2023"]]  # cut at 2021, where it changed
    assert [a["x"] for a in rate["layout"]["annotations"]] == [0.5]  # between 2019 and 2021
    assert "not comparable with the cycle before: the KPI&#x27;s definition changed" in text
    for fact in ("CC BY 4.0", "mailto:pmm@wcoomd.org", "release run-1", "code abc123", "https://pmm.wcoomd.org"):
        assert fact in text, fact
    assert read_report(report)[1] == []
    tampered = tmp_path / report.name
    tampered.write_text(text.replace('"y": [85.0, null]', '"y": [84.0, null]'))
    assert any("draws 84.0" in p for p in read_report(tampered)[1])
