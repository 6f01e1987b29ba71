"""The verdict a member's feedback opens with, the advice fitted to each problem and format, the receipt, in the
member's language: pure functions over hand-made records, no Dagster."""

import datetime as dt
import io
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pmm_pipeline.core.vocabulary import PLATFORM_REASON_CODES
from pmm_pipeline.stages.feedback.advice import ADVICE, ANY, FORMATS, advice, format_of
from pmm_pipeline.stages.feedback.members import CycleProblems, FeedbackContext, build_member_reports
from pmm_pipeline.stages.feedback.opening import Correction
from pmm_pipeline.stages.feedback.report import FeedbackRow, detail_text, problem_words
from pmm_pipeline.stages.feedback.texts import TITLES
from pmm_pipeline.stages.feedback.verdict import Gate, Outcome, Rejected, Version, deadline_of, decide_verdict
from pmm_pipeline.stages.publishing import i18n
from pmm_pipeline.stages.quality.rules import RULES
from pmm_pipeline_tests.paths import CHECKOUT

pytestmark = pytest.mark.unit

DOCS = CHECKOUT / "docs" / "formats.md"


def at(day: int) -> pd.Timestamp:
    return pd.Timestamp(2024, 1, day, 10, tz="UTC")


def version(n: int, day: int, latest: bool, **kw) -> Version:
    return Version(n, f"BRB_v{n}.json", f"{n:064x}", "json", at(day), at(day), latest, **kw)


def test_accepted_clean():
    verdict = decide_verdict([version(1, 5, True)], [], Gate(True, 0, 0))
    assert (verdict.outcome, verdict.version_used, verdict.has_receipt) == (Outcome.used, 1, True)


def test_accepted_with_warnings_names_the_kpis_it_cannot_compute():
    verdict = decide_verdict(
        [version(1, 5, True)], [], Gate(True, 0, 2), ["aeo_count_variation", "aeo_count_variation"]
    )
    assert verdict.outcome == Outcome.used_with_warnings and verdict.has_receipt
    assert verdict.kpis_not_computed == ("aeo_count_variation",) and verdict.n_warnings == 2


def test_a_later_rejected_file_leaves_the_earlier_version_in_use():
    rejected = [Rejected("BRB_v2.xlsx", at(3), "not_a_number"), Rejected("BRB_v3.json", at(9), "not_json")]
    verdict = decide_verdict([version(1, 5, True)], rejected, Gate(True, 0, 0))
    assert verdict.outcome == Outcome.used and verdict.version_used == 1
    assert [r.file_name for r in verdict.rejected_after] == ["BRB_v3.json"]  # the one before v1 is history


def test_only_rejected_files_use_no_version():
    verdict = decide_verdict([], [Rejected("NER.json", at(3), "not_json")], None)
    assert (verdict.outcome, verdict.version_used, verdict.has_receipt) == (Outcome.rejected_only, None, False)


def test_blocked_by_the_quality_gate_is_excluded():
    verdict = decide_verdict([version(1, 5, True)], [], Gate(False, 3, 1), ["rate"])
    assert (verdict.outcome, verdict.version_used, verdict.has_receipt) == (Outcome.blocked, None, False)
    assert verdict.in_use.version == 1 and verdict.n_blocking == 3 and verdict.kpis_not_computed == ()


def test_late_versions_after_the_cycle_closed():
    late = version(2, 20, False, is_late=True, is_frozen_out=True)
    verdict = decide_verdict([version(1, 5, True), late], [], Gate(True, 0, 0))
    assert verdict.version_used == 1 and verdict.newer_unused == (late,)
    only_late = decide_verdict([version(1, 20, False, is_late=True, is_frozen_out=True)], [], None)
    assert only_late.outcome == Outcome.not_used and not only_late.has_receipt


def test_without_the_gate_the_version_in_use_is_taken_as_passed():
    assert decide_verdict([version(1, 5, True)], [], None).outcome == Outcome.used


def test_the_deadline_is_the_closing_day_or_the_reopening():
    opens, closes = dt.date(2023, 12, 1), dt.date(2024, 3, 31)
    assert deadline_of(opens, closes, None, dt.date(2024, 2, 1)) == deadline_of(opens, closes, None, closes)
    assert deadline_of(opens, closes, None, dt.date(2024, 2, 1)).is_open
    assert not deadline_of(opens, closes, None, dt.date(2024, 4, 1)).is_open
    reopened = deadline_of(opens, closes, dt.date(2024, 5, 15), dt.date(2024, 4, 1))
    assert reopened.is_open and reopened.is_reopened and reopened.last_day == dt.date(2024, 5, 15)


def reason_codes() -> set[str]:
    """Every reason code the intake gives: those docs/formats.md lists and those the code raises."""
    text = DOCS.read_text(encoding="utf-8")
    paragraph = text[text.index("Reason codes of the content") : text.index("those of the table below")]
    codes = set(re.findall(r"`([a-z][a-z0-9_]+)`", paragraph))
    for first_cell in re.findall(r"^\| (`[^|]+`) \|", text, flags=re.M):  # the table of codes: its first column
        codes |= set(re.findall(r"`([a-z][a-z0-9_]+)`", first_cell))
    source = CHECKOUT / "pmm_pipeline" / "stages" / "ingestion"
    for path in source.glob("*.py"):
        codes |= set(re.findall(r'(?:Problem|RejectedFile)\(\s*"([a-z_0-9]+)"', path.read_text(encoding="utf-8")))
    return codes | set(PLATFORM_REASON_CODES)


def test_every_reason_code_and_quality_rule_has_its_own_title_and_advice():
    codes = reason_codes() | {rule.id for rule in RULES}
    assert {"not_json", "zip_bomb", "text_too_long", "values_within_range"} <= codes  # the scan found them
    assert codes - set(ADVICE) == set(), "reason codes without their own advice"
    assert codes - set(TITLES) == set(), "reason codes without their own title"
    # One entry per code, not a shared one: JSON is never told what a damaged workbook is told.
    assert ADVICE["not_json"] is not ADVICE["unreadable_file"] and ADVICE["zip_bomb"] is not ADVICE["corrupt_workbook"]


FORMAT_WORDS = {
    "xlsx": re.compile(r"excel|\.xlsx|workbook|classeur|libro|\bsheets?\b|\bcell\b|feuille|celda|\bhoja", re.I),
    "json": re.compile(r"json", re.I),
    "csv": re.compile(r"csv", re.I),
}
# Codes whose very point is which formats are taken: their advice lists them.
NAMES_EVERY_FORMAT = {"unsupported_format"}


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_no_advice_names_a_format_the_member_did_not_use(lang):
    for code in set(ADVICE) - NAMES_EVERY_FORMAT:
        for sent in (*FORMATS, None):
            text = advice(code, lang, sent, message="Expecting ',' delimiter: line 3 column 7 (char 40)")
            assert text, (code, sent)
            for other, words in FORMAT_WORDS.items():
                if other != sent:
                    assert not words.search(text), f"{code} ({sent}, {lang}) names {other}: {text}"


@pytest.mark.parametrize("lang", i18n.TRANSLATED_LANGUAGES)
def test_every_advice_title_and_heading_is_translated(lang):
    i18n.UNTRANSLATED[lang].clear()
    for code, entry in ADVICE.items():
        for key in entry:
            advice(code, lang, key if key in FORMATS else None, key if key not in (*FORMATS, ANY) else None)
    for code in TITLES:
        problem_words(FeedbackRow("blocking", code, False, *[None] * 8, ""), lang)
    assert i18n.UNTRANSLATED[lang] == set()
    assert advice("not_a_number", lang, "json") != advice("not_a_number", "en", "json")


def test_advice_fits_the_problem():
    assert "negative" in problem_words(row("values_within_range", value=-4.0, quality=True), "en")[1]
    assert "sign" in problem_words(row("values_within_range", value=-4.0, quality=True), "en")[1]
    assert "unit" in problem_words(row("values_within_range", value=9e9, quality=True), "en")[1]
    json_advice = problem_words(row("not_json", details="is not valid JSON: Expecting value: line 4 column 12"), "en")
    assert "line 4, column 12" in json_advice[1] and "Excel" not in json_advice[1]
    assert "Excel" in problem_words(row("unreadable_file", file="KEN.xlsx"), "en")[1]
    assert format_of("KEN_2023.JSON") == "json" and format_of("KEN.pdf") is None


def row(code, value=None, quality=False, details="", file="BRB.json", item=None, year=None):
    return FeedbackRow("blocking", code, quality, file, None, None, None, None, item, year, value, details)


def test_details_are_in_the_members_language(catalogue):
    items = catalogue.items_for_version("1.0")
    item = items["declarations_total"]
    problem = row("not_a_number", value="environ mille", item="declarations_total", year=2022, file="FRA.xlsx")
    title, _ = problem_words(problem, "fr", item)
    text = detail_text(problem, "fr", item, title)
    assert text.startswith("Pas un nombre") and item.labels.fr in text and "année 2022" in text
    broken = row("not_json", details="is not valid JSON: Expecting ',' delimiter: line 3 column 7 (char 40)")
    assert detail_text(broken, "es", None, "") == "El archivo no es JSON válido en la línea 3, columna 7."


def summary_text(data: bytes) -> str:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return "\n".join(" | ".join(str(v) for v in r if v is not None) for r in sheet.iter_rows(values_only=True))


def record(member: str, versions: list[dict], rejections: list[dict], gate: list[dict]) -> CycleProblems:
    return CycleProblems(
        rejections=pd.DataFrame(
            [{"member_code": member, "message": "", "problems": None, **r} for r in rejections],
            columns=["member_code", "file_name", "received_at", "reason_code", "message", "problems"],
        ),
        findings=pd.DataFrame(columns=["member_code", "rule", "severity", "kpi_id"]),
        history=pd.DataFrame(
            columns=["member_code", "file_name", "received_at", "outcome", "version", "is_latest", "reason_code"]
        ),
        versions=pd.DataFrame([{"member_code": member, **v} for v in versions], columns=["member_code", *V1]),
        gate=pd.DataFrame(
            [{"member_code": member, **g} for g in gate],
            columns=["member_code", "is_admitted", "blocking_failed", "warnings"],
        ),
    )


def reports_for(reference, catalogue, problems, lang_of, today=dt.date(2024, 2, 1), email="pmm@secretariat.test"):
    cycle = reference.cycles.get("2023")
    memberships = reference.members_in_force(cycle)
    context = FeedbackContext(cycle, Correction("https://pmm.example/", email), {})
    reports, rows = build_member_reports(
        problems, memberships, catalogue.items_for_version("1.0"), Path("/f"), "2023", today, context
    )
    return {r["member_code"]: (r, summary_text(reports[Path(r["path"])])) for r in rows}


V1 = {
    "version": 1,
    "file_name": "BRB_2023.json",
    "submission_id": "ab" * 32,
    "format": "json",
    "received_at": at(5),
    "submitted_at": at(5),
    "is_latest": True,
}


def test_a_clean_submission_gets_a_receipt_with_deadline_and_address(reference, catalogue):
    problems = record("BRB", [V1], [], [{"is_admitted": True, "blocking_failed": 0, "warnings": 0}])
    row_, text = reports_for(reference, catalogue, problems, {})["BRB"]
    assert (row_["outcome"], row_["version_used"], row_["has_receipt"], row_["n_problems"]) == ("used", 1, True, 0)
    assert text.index("What became of your submission") < text.index("Receipt")  # it opens with the verdict
    assert "Version 1 of 2024-01-05 (file BRB_2023.json) is the version used" in text
    assert "ab" * 32 in text and "2024-01-05 10:00" in text and "published on 2025-01-15" in text
    assert "Send a corrected file by 2024-03-31" in text
    assert "https://pmm.example/cycles/2023/members/BRB/" in text and "pmm@secretariat.test" in text


def test_a_later_rejection_says_plainly_that_the_earlier_version_is_used(reference, catalogue):
    later = {"file_name": "BRB_v2.json", "received_at": at(9), "reason_code": "not_json"}
    problems = record("BRB", [V1], [later], [{"is_admitted": True, "blocking_failed": 0, "warnings": 0}])
    row_, text = reports_for(reference, catalogue, problems, {})["BRB"]
    assert row_["n_blocking"] == 1 and row_["version_used"] == 1
    assert "The file BRB_v2.json you sent on 2024-01-09 was rejected (Not valid JSON)" in text
    assert "Version 1 stays in use" in text


def test_a_member_blocked_by_the_gate_reads_that_it_is_excluded_in_its_language(reference, catalogue):
    v1 = {**V1, "file_name": "NER_2023.json"}
    later = {"file_name": "NER_v2.json", "received_at": at(9), "reason_code": "not_json"}
    problems = record("NER", [v1], [later], [{"is_admitted": False, "blocking_failed": 2, "warnings": 0}])
    row_, text = reports_for(reference, catalogue, problems, {}, today=dt.date(2024, 6, 1), email=None)["NER"]
    assert (row_["language"], row_["outcome"], row_["has_receipt"]) == ("fr", "blocked", False)
    assert "2 problème(s) bloquant(s)" in text and "vos données sont exclues des résultats du cycle 2023" in text
    assert "Aucun de vos ICP n'est calculé ni publié" in text
    assert "La collecte a été close le 2024-03-31" in text and "Secrétariat de l'OMD" in text
    assert "Accusé de réception" not in text
    # A later rejected file is not used either, and no version "stays in use" for a member kept out.
    assert (
        "Le fichier NER_v2.json envoyé le 2024-01-09 a été rejeté (JSON non valide) : il n'est pas utilisé non plus"
        in text
    )
    assert "reste utilisée" not in text


def test_only_rejected_files(reference, catalogue):
    bad = {"file_name": "ARG_2023.csv", "received_at": at(9), "reason_code": "bad_status"}
    problems = record("ARG", [], [bad], [])
    row_, text = reports_for(reference, catalogue, problems, {})["ARG"]
    assert (row_["outcome"], row_["version_used"], row_["has_receipt"]) == ("rejected_only", None, False)
    assert "Ninguna versión de su envío se usa" in text or "No se usa ninguna versión de su envío" in text


def test_where_to_send_a_correction_is_a_setting_with_a_default():
    from pmm_pipeline.core.settings import Settings

    assert Settings.from_env({}).platform_url == "http://127.0.0.1:8080"
    assert Settings.from_env({}).secretariat_email is None
    assert Settings.from_env({"PMM_PORTAL_PORT": "8081"}).platform_url == "http://127.0.0.1:8081"
    given = Settings.from_env({"PMM_PLATFORM_URL": "https://pmm.wco.example/", "PMM_SECRETARIAT_EMAIL": "a@b.org"})
    assert (given.platform_url, given.secretariat_email) == ("https://pmm.wco.example", "a@b.org")
    assert Correction(given.platform_url).page("2023", "KEN") == "https://pmm.wco.example/cycles/2023/members/KEN/"
    for bad in ({"PMM_PLATFORM_URL": "pmm.example"}, {"PMM_SECRETARIAT_EMAIL": "not an address"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Settings.from_env(bad)


def test_a_version_received_after_the_cycle_closed_is_said_to_be_kept_but_not_used(reference, catalogue):
    late = {**V1, "version": 2, "file_name": "BRB_late.json", "received_at": at(20), "is_latest": False}
    problems = record("BRB", [V1, late], [], [{"is_admitted": True, "blocking_failed": 0, "warnings": 0}])
    row_, text = reports_for(reference, catalogue, problems, {}, today=dt.date(2024, 4, 2))["BRB"]
    assert row_["version_used"] == 1 and row_["has_receipt"]
    assert "Version 2 (file BRB_late.json, received 2024-01-20) arrived after the collection closed" in text
    assert "The collection closed on 2024-03-31" in text
    assert "published on 2025-01-15." in text and "before the deadline" not in text  # no new file can replace it
