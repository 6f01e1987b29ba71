"""Every released report (each tier in en/fr/es) and a sample of profiles in the three languages, drawn in headless
Chromium: charts drawn, text labels of each chart pairwise disjoint, no member hidden from the tier named.

One browser for the module, on the session's shared cycle run (fixture_cycle). Screenshots go to test-artifacts/
(ignored by git): report_<tier>_<lang>.png (the top of the page; the whole page for public/en),
report_<tier>_<lang>_first_chart.png, report_public_en.pdf (printed on A4), profile_<member>_<lang>.png.
"""

import re

import pytest

from pmm_pipeline.core.vocabulary import LANGUAGES, TIERS
from pmm_pipeline.stages.publishing.profile_document import build_profile
from pmm_pipeline.stages.publishing.profile_page import render_profile
from pmm_pipeline.stages.publishing.profiles import profile_html
from pmm_pipeline_tests.paths import ARTIFACTS
from pmm_pipeline_tests.stages.publishing.chromium_checks import chromium, overlapping
from pmm_pipeline_tests.stages.publishing.report_inputs import hand_made_profile_inputs

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.browser

# Members with values in the fixture cycle hidden from a tier's readers in every KPI (test_publication_formats.py).
HIDDEN = {"public": {"DEU", "UGA"}, "wco": {"UGA"}, "secretariat": set()}
NAMES = {"DEU": ("Germany", "Allemagne", "Alemania"), "UGA": ("Uganda", "Ouganda")}

# Each chart's text labels (axis ticks, bar and point texts, titles, annotations) as Chromium laid them out.
CHART_LABELS_JS = """
() => Array.from(document.querySelectorAll('div.chart, svg.chart')).map(chart => ({
  id: chart.id || chart.getAttribute('class'),
  drawn: chart.tagName.toLowerCase() === 'svg'
    ? chart.querySelectorAll('rect, circle, line').length > 0
    : chart.querySelectorAll('.main-svg').length > 0 && chart.querySelectorAll('.point, .points path').length > 0,
  labels: Array.from(chart.querySelectorAll(
    'text.label, .ytick text, .xtick text, .bartext, .textpoint text, .annotation-text, .gtitle'
  )).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height};
  }).filter(b => b.w > 0 && b.h > 0),
}))
"""


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    path = chromium()
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def published(fixture_cycle):
    settings, result = fixture_cycle
    assert result.success
    return settings.layout.published_dir("2023")


def check_page(page, what: str) -> list[dict]:
    """The page's charts, each asserted drawn with labels clear of each other."""
    charts = page.evaluate(CHART_LABELS_JS)
    assert charts, f"{what}: no chart"
    for chart in charts:
        assert chart["drawn"], (what, chart["id"])
        assert chart["labels"], (what, chart["id"])
        assert overlapping(chart["labels"]) == [], (what, chart["id"])
    return charts


def shown_text(page) -> str:
    """What a reader can read: the page's text and every chart's texts (not the embedded data or plotly.js)."""
    return page.evaluate(
        "() => document.body.innerText + '\\n' + Array.from(document.querySelectorAll('svg text'))"
        ".map(t => t.textContent).join('\\n')"
    )


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def assert_prints_short(page, path) -> None:
    """Printed on A4 (Chromium's own printing, as --print-to-pdf does): each dimension from a new page, without
    the member charts and the methodology, so that no KPI series takes more than a page."""
    series = page.evaluate("() => document.querySelectorAll('.series').length")
    dimensions = page.evaluate("() => document.querySelectorAll('.dimension').length")
    path.write_bytes(page.pdf(format="A4"))
    pages = pdf_pages(path.read_bytes())
    assert dimensions >= 1 and series >= dimensions
    assert dimensions < pages <= 3 + series, (pages, series)


def test_every_report_of_every_tier_in_every_language_is_drawn_readable_and_shows_no_hidden_member(published, browser):
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    ARTIFACTS.mkdir(exist_ok=True)
    drawn = 0
    for tier in TIERS:
        for lang in LANGUAGES:
            what = f"{tier}/{lang}"
            page.goto((published / tier / f"report_{lang}.html").as_uri())
            page.wait_for_selector(".chart .main-svg")
            assert page.evaluate("() => document.documentElement.lang") == lang
            drawn += len(check_page(page, what))
            text = shown_text(page)
            for member in HIDDEN[tier]:
                assert not re.search(rf"\b{member}\b", text), (what, member)
                assert not [n for n in NAMES.get(member, ()) if n in text], (what, member)
            for fact in ("CC BY 4.0", "pmm@wcoomd.org", "kpi_values.csv"):
                assert fact in text, (what, fact)
            assert "Unit: level" not in text, what  # categorical KPIs are shares of those answering, never a "level"
            if (tier, lang) == ("public", "en"):
                assert_prints_short(page, ARTIFACTS / "report_public_en.pdf")
            # The top of the page (title, release facts, findings) and its first chart: a whole page costs ~15 s.
            shot = ARTIFACTS / f"report_{tier}_{lang}.png"
            page.screenshot(path=str(shot), full_page=(tier, lang) == ("public", "en"))
            assert shot.stat().st_size > 10_000
            page.locator(".chart").first.screenshot(path=str(ARTIFACTS / f"report_{tier}_{lang}_first_chart.png"))
    page.close()
    assert drawn >= 9 * 10  # every KPI series of every report has at least its group chart


def test_profiles_in_three_languages_are_drawn_readable_and_name_only_their_member(published, browser):
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    members = sorted(p.name for p in (published / "profiles").iterdir() if p.is_dir())
    pages = [(m, lang, published / "profiles" / m / profile_html(lang)) for m in members for lang in LANGUAGES]
    pages = [(m, lang, p) for m, lang, p in pages if p.exists()]
    assert {lang for _, lang, _ in pages} >= {"en", "fr"}
    for member, lang, path in pages:
        page.goto(path.as_uri())
        check_page(page, f"{member}/{lang}")
        named = set(re.findall(r"\b[A-Z]{3}\b", shown_text(page))) & (set(members) - {member})
        assert named == set(), (member, lang, named)
        page.screenshot(path=str(ARTIFACTS / f"profile_{member}_{lang}.png"), full_page=True)
    # Spanish, with an earlier cycle (a change, and a KPI whose definition changed): the hand-made profile.
    for lang in LANGUAGES:
        inputs = hand_made_profile_inputs(lang)
        path = ARTIFACTS / f"profile_KEN_hand_made_{lang}.html"
        path.write_text(render_profile(build_profile("KEN", inputs), lang, inputs), encoding="utf-8")
        page.goto(path.as_uri())
        charts = check_page(page, f"hand-made/{lang}")
        assert any("trend" in c["id"] for c in charts), lang
        page.screenshot(path=str(ARTIFACTS / f"profile_KEN_hand_made_{lang}.png"), full_page=True)
    page.close()
