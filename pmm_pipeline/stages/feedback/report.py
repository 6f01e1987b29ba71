"""A member's validation report: what became of its submission, every problem in what it sent, with its place
and what to do, in its language.

Pure: the rows come from the member's own rejections (raw.rejections) and quality findings
(quality.findings), already filtered to that member by the caller, the verdict from its record
(verdict.py), and the report is rendered to bytes with xlsxwriter. Every text cell is written as
text (never as a formula) and text that a spreadsheet would run as a formula is neutralized.
"""

import datetime as dt
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import xlsxwriter

from pmm_pipeline.specs.catalogue.models import Item
from pmm_pipeline.stages.feedback.advice import advice, format_of, json_position, variant_of
from pmm_pipeline.stages.feedback.opening import Opening, deadline_paragraphs, receipt_rows, verdict_paragraphs
from pmm_pipeline.stages.feedback.texts import HEADINGS, TITLES, title
from pmm_pipeline.stages.publishing.cells import neutralize_spreadsheet_text

SEVERITY_ORDER = {"blocking": 0, "warning": 1}
PROBLEM_COLUMNS = (
    "severity",
    "file",
    "where",
    "item",
    "question",
    "year",
    "value",
    "rule",
    "what_to_do",
    "details",
    "your_comment",
    "original_message",
)
WIDTHS = {
    "severity": 14,
    "file": 28,
    "where": 26,
    "item": 28,
    "question": 48,
    "year": 7,
    "value": 16,
    "rule": 34,
    "what_to_do": 50,
    "details": 60,
    "your_comment": 30,
    "original_message": 50,
}


@dataclass(frozen=True)
class FeedbackRow:
    """One problem as the member reads it (codes and raw values; words are chosen when rendering)."""

    severity: str  # blocking or warning
    code: str  # reason code or quality rule id
    is_quality: bool
    file: str | None
    sheet: str | None
    cell: str | None
    line: int | None
    pointer: str | None
    item: str | None
    year: int | None
    value: Any
    details: str
    your_comment: str | None = None


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    return value


def rows_from_rejections(rejections: pd.DataFrame) -> list[FeedbackRow]:
    """Every problem of every rejected file (a duplicate is a warning: its original is used)."""
    rows = []
    for rejection in rejections.itertuples(index=False):
        try:
            problems = json.loads(rejection.problems) if isinstance(rejection.problems, str) else []
        except ValueError:
            problems = []
        if not problems:
            problems = [{"code": rejection.reason_code, "message": rejection.message}]
        for problem in problems:
            code = problem.get("code") or rejection.reason_code
            year = problem.get("year")
            rows.append(
                FeedbackRow(
                    severity="warning" if code == "duplicate_file" else "blocking",
                    code=code,
                    is_quality=False,
                    file=rejection.file_name,
                    sheet=problem.get("sheet"),
                    cell=problem.get("cell"),
                    line=problem.get("line"),
                    pointer=problem.get("pointer"),
                    item=problem.get("item") if isinstance(problem.get("item"), str) else None,
                    year=year if isinstance(year, int) else None,
                    value=problem.get("value"),
                    details=problem.get("message") or rejection.message,
                )
            )
    return rows


def rows_from_findings(findings: pd.DataFrame) -> list[FeedbackRow]:
    """Every quality finding (columns of quality.findings; any of them may be missing)."""
    rows = []
    for finding in findings.to_dict("records"):
        line = _clean(finding.get("source_line"))
        year = _clean(finding.get("year"))
        rows.append(
            FeedbackRow(
                severity=str(finding.get("severity") or "warning"),
                code=str(finding.get("rule")),
                is_quality=True,
                file=_clean(finding.get("source_file")),
                sheet=_clean(finding.get("source_sheet")),
                cell=_clean(finding.get("source_cell")),
                line=None if line is None else int(line),
                pointer=_clean(finding.get("source_pointer")),
                item=_clean(finding.get("item")),
                year=None if year is None else int(year),
                value=_clean(finding.get("value")),
                details=str(_clean(finding.get("message")) or ""),
                your_comment=_clean(finding.get("justification")),
            )
        )
    return rows


def sort_rows(rows: list[FeedbackRow]) -> list[FeedbackRow]:
    return sorted(
        rows,
        key=lambda r: (
            SEVERITY_ORDER.get(r.severity, 2),
            r.file or "",
            r.sheet or "",
            r.line or 0,
            _cell_order(r.cell),
            r.item or "",
            r.year or 0,
            r.code,
        ),
    )


def _cell_order(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (0, "")
    digits = "".join(ch for ch in cell if ch.isdigit())
    return (int(digits) if digits else 0, cell)


def place(row: FeedbackRow, lang: str) -> str:
    words = HEADINGS[lang]
    if row.sheet or row.cell:
        return words["sheet_cell"].format(sheet=row.sheet or "?", cell=row.cell or "?")
    if row.line is not None:
        return words["line"].format(line=row.line)
    return row.pointer or words["whole_file"]


def problem_words(row: FeedbackRow, lang: str, item: Item | None = None) -> tuple[str, str]:
    """(title, what to do) of a problem in `lang`; what to do fits the format of the file it is in."""
    words = HEADINGS[lang]
    if row.code in TITLES:
        item_type = item.type.value if item is not None else None
        variant = variant_of(row.code, row.value, item_type)
        return title(row.code, lang), advice(row.code, lang, format_of(row.file), variant, row.details)
    if row.is_quality:
        return words["quality_title"].format(code=row.code), words["quality_action"]
    return words["generic_title"].format(code=row.code), words["generic_action"]


def detail_text(row: FeedbackRow, lang: str, item: Item | None, problem_title: str) -> str:
    """The problem in a sentence in `lang`, from its recorded facts (the recorded message is English)."""
    words = HEADINGS[lang]
    if row.code == "not_json" and (position := json_position(row.details)) is not None:
        return words["detail_json_syntax"].format(line=position[0], column=position[1])
    if not row.item:
        return words["detail_file"].format(title=problem_title, place=place(row, lang))
    question = item.labels.in_language(lang) if item is not None else row.item
    facts = {"title": problem_title, "question": question, "item": row.item, "year": row.year or ""}
    if row.year is None:
        return words["detail_item"].format(**facts)
    if row.value is None or row.value == "":
        return words["detail_answer_no_value"].format(**facts)
    return words["detail_answer"].format(value=_shown_value(row.value), **facts)


def _shown_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    return str(value)


def _text(value: Any) -> str:
    return str(neutralize_spreadsheet_text("" if value is None else str(value)))


@dataclass(frozen=True)
class FileLine:
    """One file the member sent, for the report's list of files."""

    file_name: str
    received_at: Any
    outcome: str
    version: int | None
    is_latest: bool
    reason_code: str | None


def render_feedback(
    member_code: str,
    member_name: str,
    cycle_id: str,
    lang: str,
    rows: list[FeedbackRow],
    files: list[FileLine],
    items: Mapping[str, Item],
    produced_on: dt.date,
    opening: Opening | None = None,
) -> bytes:
    """The report as .xlsx bytes: a summary opening with the verdict (when `opening` is given: the deadline, where
    to send a correction and the receipt too), every problem (one row each, naming its cell), the files received."""
    words = HEADINGS[lang]
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    workbook.set_properties(
        {"title": f"{words['title']} {member_code} {cycle_id}", "created": dt.datetime.combine(produced_on, dt.time())}
    )
    title = workbook.add_format({"bold": True, "font_size": 14, "font_color": "#1F4E78"})
    bold = workbook.add_format({"bold": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    header = workbook.add_format(
        {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "text_wrap": True, "valign": "top", "border": 1}
    )
    blocking = workbook.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE", "valign": "top"})
    warning = workbook.add_format({"font_color": "#9C5700", "bg_color": "#FFEB9C", "valign": "top"})
    number = workbook.add_format({"num_format": "#,##0.###", "valign": "top"})

    ordered = sort_rows(rows)
    summary = workbook.add_worksheet(words["sheet_summary"])
    summary.set_column(0, 0, 28)
    summary.set_column(1, 1, 90)
    summary.write_string(0, 0, words["title"], title)
    facts = [
        (words["member"], f"{member_name} ({member_code})"),
        (words["cycle"], cycle_id),
        (words["generated"], produced_on.isoformat()),
        (words["n_blocking"], str(sum(r.severity == "blocking" for r in rows))),
        (words["n_warning"], str(sum(r.severity != "blocking" for r in rows))),
    ]
    heading = workbook.add_format({"bold": True, "font_size": 12, "font_color": "#1F4E78"})
    at = 2
    if opening is not None:
        summary.write_string(at, 0, words["verdict"], heading)
        for paragraph in verdict_paragraphs(opening, cycle_id, lang):
            summary.write_string(at, 1, _text(paragraph), wrap)
            summary.set_row(at, 30)
            at += 1
        at += 1
        for label, value in deadline_paragraphs(opening, cycle_id, member_code, lang):
            summary.write_string(at, 0, label, bold)
            summary.write_string(at, 1, _text(value), wrap)
            at += 1
        receipt = receipt_rows(opening, cycle_id, lang)
        if receipt:
            at += 1
            summary.write_string(at, 0, words["receipt"], heading)
            at += 1
            for label, value in receipt:
                summary.write_string(at, 0, label, bold)
                summary.write_string(at, 1, _text(value), wrap)
                at += 1
        at += 1
    for index, (label, value) in enumerate(facts, start=at):
        summary.write_string(index, 0, label, bold)
        summary.write_string(index, 1, _text(value))
    summary.write_string(at + len(facts) + 1, 1, words["intro"], wrap)
    summary.set_row(at + len(facts) + 1, 75)

    sheet = workbook.add_worksheet(words["sheet_problems"])
    for column, key in enumerate(PROBLEM_COLUMNS):
        sheet.set_column(column, column, WIDTHS[key])
        sheet.write_string(0, column, words[key], header)
    sheet.freeze_panes(1, 0)
    for index, row in enumerate(ordered, start=1):
        item = items.get(row.item) if row.item else None
        rule_title, action = problem_words(row, lang, item)
        sheet.write_string(
            index, 0, words.get(row.severity, row.severity), blocking if row.severity == "blocking" else warning
        )
        sheet.write_string(index, 1, _text(row.file), wrap)
        sheet.write_string(index, 2, _text(place(row, lang)), wrap)
        sheet.write_string(index, 3, _text(row.item), wrap)
        sheet.write_string(index, 4, _text(item.labels.in_language(lang) if item else ""), wrap)
        if row.year is not None:
            sheet.write_number(index, 5, row.year)
        if isinstance(row.value, (int, float)) and not isinstance(row.value, bool) and math.isfinite(row.value):
            sheet.write_number(index, 6, row.value, number)
        else:
            sheet.write_string(index, 6, _text(row.value), wrap)
        sheet.write_string(index, 7, _text(rule_title), wrap)
        sheet.write_string(index, 8, _text(action), wrap)
        sheet.write_string(index, 9, _text(detail_text(row, lang, item, rule_title)), wrap)
        sheet.write_string(index, 10, _text(row.your_comment), wrap)
        sheet.write_string(index, 11, _text(row.details), wrap)
    sheet.autofilter(0, 0, max(len(ordered), 1), len(PROBLEM_COLUMNS) - 1)

    listing = workbook.add_worksheet(words["sheet_files"])
    for column, (key, width) in enumerate((("file", 40), ("received_at", 20), ("outcome", 34), ("reason", 40))):
        listing.set_column(column, column, width)
        listing.write_string(0, column, words[key], header)
    listing.freeze_panes(1, 0)
    for index, line in enumerate(files, start=1):
        if line.outcome == "accepted":
            outcome = words["accepted_latest" if line.is_latest else "accepted"].format(version=line.version)
        else:
            outcome = words.get(line.outcome, line.outcome)
        received = pd.Timestamp(line.received_at).strftime("%Y-%m-%d %H:%M") if _clean(line.received_at) else ""
        listing.write_string(index, 0, _text(line.file_name))
        listing.write_string(index, 1, received)
        listing.write_string(index, 2, _text(outcome))
        reason = (
            problem_words(FeedbackRow("blocking", line.reason_code, False, *[None] * 8, ""), lang)[0]
            if line.reason_code
            else ""
        )
        listing.write_string(index, 3, _text(reason))
    sheet.activate()
    workbook.close()
    return buffer.getvalue()
