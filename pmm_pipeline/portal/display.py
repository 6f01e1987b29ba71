"""A verdict in the account's language: each problem and finding with its place and what to do.

The words are the feedback report's own (stages/feedback/texts.py has every problem code in en/fr/es), so the
platform, `pmm validate` and the feedback workbook say the same thing.
"""

import datetime as dt
import re
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy

from pmm_pipeline.stages.collection.cycle_status import cycle_state
from pmm_pipeline.stages.feedback.report import FeedbackRow, detail_text, problem_words
from pmm_pipeline.stages.feedback.texts import HEADINGS, PROBLEMS

_SHEET_CELL = re.compile(r"sheet (?P<sheet>.+), cell (?P<cell>[A-Z]{1,3}[0-9]{1,7})")
_LINE = re.compile(r"line (?P<line>\d+)")


# Reasons only the platform gives (a refusal at the door, before the intake): its own words, in its catalogues.
PORTAL_PROBLEMS = {
    "unsupported_file_type": (
        gettext_lazy("Not a kind of file the platform takes"),
        gettext_lazy("Send the questionnaire (.xlsx), a JSON submission (.json) or the flat CSV export (.csv)."),
    ),
}


def words_for(code: str, lang: str, is_quality: bool, row: FeedbackRow | None = None) -> tuple[str, str]:
    """(title, what to do); with the problem's `row`, what to do fits its file's format and value."""
    if code in PROBLEMS:
        return problem_words(row, lang) if row is not None else PROBLEMS[code][lang]
    if code in PORTAL_PROBLEMS:
        with translation.override(lang):
            return tuple(str(text) for text in PORTAL_PROBLEMS[code])
    words = HEADINGS[lang]
    if is_quality:
        return words["quality_title"].format(code=code), words["quality_action"]
    return words["generic_title"].format(code=code), words["generic_action"]


def place_words(entry: dict[str, Any], lang: str) -> str:
    """The place in the account's language, from the verdict's structured fields or its English `place`."""
    words = HEADINGS[lang]
    sheet, cell, line = entry.get("sheet"), entry.get("cell"), entry.get("line")
    text = str(entry.get("place") or "")
    if not (sheet or cell):
        match = _SHEET_CELL.fullmatch(text)
        if match:
            sheet, cell = match["sheet"], match["cell"]
    if sheet or cell:
        return words["sheet_cell"].format(sheet=sheet or "?", cell=cell or "?")
    if line is None and _LINE.fullmatch(text):
        line = int(_LINE.fullmatch(text)["line"])
    if line is not None:
        return words["line"].format(line=line)
    return text if text and text not in {"(file)", "whole file"} else words["whole_file"]


def _row(entry: dict[str, Any], code: str, is_quality: bool, file_name: str | None, where: str) -> FeedbackRow:
    year, item = entry.get("year"), entry.get("item")
    return FeedbackRow(
        str(entry.get("severity") or "blocking"),
        code,
        is_quality,
        file_name,
        None,
        None,
        None,
        where,
        item if isinstance(item, str) else None,
        year if isinstance(year, int) else None,
        entry.get("value"),
        str(entry.get("message") or ""),
    )


def _shown(entry: dict[str, Any], code: str, is_quality: bool, lang: str, file_name: str | None) -> dict[str, Any]:
    """The entry with its place, title, what to do and detail in `lang`, as the feedback report words them."""
    where = place_words(entry, lang)
    row = _row(entry, code, is_quality, file_name, where)
    title, action = words_for(code, lang, is_quality, row)
    return {
        **entry,
        "title": title,
        "what_to_do": action,
        "where": where,
        "detail": detail_text(row, lang, None, title),
    }


def shown_verdict(verdict: dict[str, Any], lang: str, file_name: str | None = None) -> dict[str, Any]:
    """The verdict in `lang`; `file_name` (the file sent) fits the advice to its format."""
    problems = [_shown(p, str(p.get("code")), False, lang, file_name) for p in verdict.get("problems") or []]
    findings = [_shown(f, str(f.get("rule")), True, lang, file_name) for f in verdict.get("findings") or []]
    return {**verdict, "problems": problems, "findings": findings}


def deadline(cycle, today: dt.date) -> tuple[str, dt.date]:
    """(state, the last day uploads are used), by the pipeline's own rule (`pmm status` says the same)."""
    return cycle_state(cycle, today), cycle.last_collection_day
