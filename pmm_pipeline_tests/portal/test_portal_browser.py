"""The NCP's whole way through in French, and a reviewer's note read by the member, in headless Chromium.

The platform runs under waitress on 127.0.0.1 (portal_fixtures.live_server); Playwright drives the system
Chromium (never a downloaded one). Screenshots of each step are kept in test-artifacts/ (ignored by git). Skipped
only when no Chromium is installed, like test_ui.py.
"""

import datetime as dt
import io
import shutil

import openpyxl
import pytest

from pmm_pipeline_tests.paths import ARTIFACTS
from pmm_pipeline_tests.portal_fixtures import OPEN_CYCLE, PASSWORD, live_server, make_account, portal  # noqa: F401

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.browser


MEMBER = "CIV"  # a French-speaking member


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium installed: `make browser` installs it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own database calls (accounts, records)
    # are plain synchronous ones, which Django refuses under a running loop unless told otherwise.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as p:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        launched = p.chromium.launch(executable_path=path, args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal_{name}.png"), full_page=True)


def _sign_in(page, base, login):
    page.goto(f"{base}/sign-in/")
    page.fill("#id_username", login)
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in")


def fill_by_item_code(data: bytes, values: dict[tuple[str, int], object]) -> tuple[bytes, dict]:
    """What a member's program does: rows found by item code and year, the value written; returns the cells used."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    cover, answers = workbook.worksheets[:2]
    for row in cover.iter_rows():
        if row[0].value == "pmm:submitted_at":
            row[2].value = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(minutes=1)
    cells = {}
    for row in answers.iter_rows(min_row=5):
        key = (row[0].value, row[3].value)
        if key in values:
            row[4].value = values[key]
            cells[key] = (answers.title, row[4].coordinate)
    assert set(cells) == set(values), "every item code was found in the questionnaire"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), cells


def test_the_ncp_way_through_in_french(portal, live_server, browser, tmp_path):  # noqa: F811
    ncp = make_account("ncp", MEMBER, lang="fr")
    page = browser.new_page(accept_downloads=True)
    _sign_in(page, live_server, ncp.username)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Vos soumissions pour CIV" in page.content()
    _shot(page, "1_accueil")
    page.click(f"a[href='/cycles/{OPEN_CYCLE}/members/{MEMBER}/']")
    assert page.locator("#cycle-state").inner_text() == "ouvert"
    with page.expect_download() as download:
        page.click("#download")
    template = tmp_path / "questionnaire.xlsx"
    download.value.save_as(template)
    assert openpyxl.load_workbook(template).sheetnames[0] == "Couverture"

    answers = {
        ("declarations_total", 2025): "beaucoup",
        ("declarations_electronic", 2025): 900,
        ("aeo_count", 2025): 40,
        ("aeo_count", 2024): 35,
    }
    broken, cells = fill_by_item_code(template.read_bytes(), answers)
    (tmp_path / "CIV_2025.xlsx").write_bytes(broken)
    page.set_input_files("#id_file", str(tmp_path / "CIV_2025.xlsx"))
    page.click("#send")
    assert page.locator("#verdict-status").inner_text() == "rejeté"
    sheet, cell = cells[("declarations_total", 2025)]
    assert f"feuille {sheet}, cellule {cell}" in page.locator("#problems").inner_text()
    _shot(page, "2_verdict_rejete")

    fixed, _ = fill_by_item_code(template.read_bytes(), {**answers, ("declarations_total", 2025): 1000})
    (tmp_path / "CIV_2025.xlsx").write_bytes(fixed)
    page.click("#back")
    page.set_input_files("#id_file", str(tmp_path / "CIV_2025.xlsx"))
    page.click("#send")
    assert page.locator("#verdict-status").inner_text() == "accepté"
    first_version = int(page.locator("#version").inner_text())
    _shot(page, "3_verdict_accepte")

    page.click("#back")
    page.click("#disclosure")
    page.select_option("#id_electronic_declaration_rate", "public")
    _shot(page, "4_choix_de_diffusion")
    page.click("#save-choices")
    assert page.locator("#verdict-status").inner_text() == "accepté"
    assert int(page.locator("#version").inner_text()) == first_version + 1
    page.click("#back")
    page.click("#disclosure")
    assert page.locator("#id_electronic_declaration_rate").input_value() == "public"
    _shot(page, "5_versions")
    page.close()


def test_a_reviewers_note_reaches_the_member(portal, live_server, browser):  # noqa: F811
    from pmm_pipeline.portal import receiving
    from pmm_pipeline_tests.portal_fixtures import json_submission

    member = "SEN"
    ncp = make_account("ncp", member, lang="fr")
    reviewer = make_account("reviewer", assigned=(member,), lang="en")
    receiving.receive(None, ncp, OPEN_CYCLE, f"{member}.json", json_submission(member), channel="api")

    page = browser.new_page()
    _sign_in(page, live_server, reviewer.username)
    page.click(f"a[href='/cycles/{OPEN_CYCLE}/members/{member}/']")
    page.select_option("#id_answer", "declarations_total|2025")
    page.fill("#id_text", "Total looks low against 2024: please confirm <b>the unit</b>.")
    page.click("#save-note")
    _shot(page, "6_reviewer_note")
    page.close()

    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, live_server, ncp.username)
    page.goto(f"{live_server}/cycles/{OPEN_CYCLE}/members/{member}/")
    row = page.locator("#answers tr", has_text="declarations_total")
    assert "please confirm <b>the unit</b>." in row.inner_text()  # shown as typed, as text
    assert reviewer.username in row.inner_text()
    _shot(page, "7_member_reads_note")
    context.close()
