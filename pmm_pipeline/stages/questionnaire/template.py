"""Writing a member's Excel questionnaire for a cycle (`pmm template`), optionally pre-filled with answers.

A form a person is glad to fill: a cover sheet with the member, the years and the contact, an
answers sheet with one row per item and year (grey cells locked, yellow input cells with data
validation), a disclosure sheet, and a very hidden sheet with the stamp and the choice lists.
The same inputs (and `created`) give the same bytes.
"""

import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from pmm_pipeline.core.vocabulary import ANSWER_STATUSES, LANGUAGES, TIERS
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item, ItemType
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Membership
from pmm_pipeline.stages.questionnaire.layout import (
    ANSWER_COLUMNS,
    COVER_KEY_PREFIX,
    DISCLOSURE_COLUMNS,
    META_SHEET,
    TEXTS,
    QuestionnairePlan,
    build_stamp,
    choice_label,
    plan_questionnaire,
    unit_label,
)

HEADER_ROW = 3  # 0-based: title, a line of help, a blank row, then the headers
ANSWER_WIDTHS = {"item": 30, "question": 72, "unit": 16, "year": 8, "value": 18, "status": 26, "comment": 42}
DISCLOSURE_WIDTHS = {"kpi": 32, "name": 60, "dimension": 40, "disclosure": 30}
NUMBER_FORMATS = {ItemType.count: "#,##0", ItemType.amount: "#,##0", ItemType.duration: "0.0", ItemType.percent: "0.00"}
INPUT_FILL = "#FFF2CC"
LOCKED_FILL = "#F2F2F2"
HEADER_FILL = "#1F4E78"


class QuestionnaireError(ValueError):
    """A questionnaire that cannot be made: unknown cycle, member or language."""


def _formats(workbook: xlsxwriter.Workbook) -> dict[str, Any]:
    base = {"font_name": "Calibri", "font_size": 10, "valign": "top", "border": 1, "border_color": "#BFBFBF"}
    return {
        "title": workbook.add_format({"bold": True, "font_size": 14, "font_color": HEADER_FILL}),
        "help": workbook.add_format({"italic": True, "font_size": 9, "text_wrap": True, "valign": "top"}),
        "header": workbook.add_format(
            {**base, "bold": True, "font_color": "#FFFFFF", "bg_color": HEADER_FILL, "text_wrap": True}
        ),
        "section": workbook.add_format({"bold": True, "font_size": 11, "bg_color": "#DDEBF7", "border": 1}),
        "label": workbook.add_format({**base, "bg_color": LOCKED_FILL, "text_wrap": True}),
        "label_bold": workbook.add_format({**base, "bg_color": LOCKED_FILL, "bold": True}),
        "code": workbook.add_format({**base, "bg_color": LOCKED_FILL, "font_name": "Consolas"}),
        "year": workbook.add_format({**base, "bg_color": LOCKED_FILL, "align": "center"}),
        "input_text": workbook.add_format({**base, "bg_color": INPUT_FILL, "locked": False, "text_wrap": True}),
        "input_date": workbook.add_format(
            {**base, "bg_color": INPUT_FILL, "locked": False, "num_format": "yyyy-mm-dd"}
        ),
        **{
            f"input_{t.value}": workbook.add_format({**base, "bg_color": INPUT_FILL, "locked": False, "num_format": f})
            for t, f in NUMBER_FORMATS.items()
        },
        "input_choice": workbook.add_format({**base, "bg_color": INPUT_FILL, "locked": False}),
        "instructions": workbook.add_format({"text_wrap": True, "valign": "top", "font_size": 10}),
    }


def _number_text(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e15 else f"{x:.0f}"


def _value_validation(item: Item, texts: dict[str, str], list_range: str | None) -> dict[str, Any] | None:
    """Excel data validation of an item's value cell: its levels, or its numeric range."""
    if item.is_categorical:
        return {
            "validate": "list",
            "source": list_range,
            "input_title": texts["list_title"],
            "input_message": texts["list_message"],
            "error_title": texts["error_title"],
            "error_message": texts["error_list"],
        }
    low, high = item.min, item.max
    kind = "integer" if item.type == ItemType.count else "decimal"
    if low is None and high is None:
        return None
    if low is not None and high is not None:
        rule = {"criteria": "between", "minimum": low, "maximum": high}
        message = texts["range_between"].format(min=_number_text(low), max=_number_text(high))
    elif low is not None:
        rule = {"criteria": ">=", "value": low}
        message = texts["whole" if kind == "integer" else "range_from"].format(min=_number_text(low))
    else:
        rule = {"criteria": "<=", "value": high}
        message = texts["range_any"]
    return {
        "validate": kind,
        **rule,
        "input_title": texts["range_title"],
        "input_message": message,
        "error_title": texts["error_title"],
        "error_message": texts["error_range"],
    }


def _absolute_range(column: int, first_row: int, last_row: int) -> str:
    start = xl_rowcol_to_cell(first_row, column, row_abs=True, col_abs=True)
    end = xl_rowcol_to_cell(last_row, column, row_abs=True, col_abs=True)
    return f"='{META_SHEET}'!{start}:{end}"


def _choice_lists(plan: QuestionnairePlan, lang: str) -> dict[str, list[str]]:
    """The labels of every drop-down list: statuses, disclosure tiers, and each level item's levels."""
    lists = {
        "status": [choice_label(c, lang) for c in ANSWER_STATUSES],
        "disclosure": [choice_label(c, lang) for c in TIERS],
    }
    for row in plan.rows:
        if row.item.is_categorical:
            lists[row.item.code] = [lv.labels.in_language(lang) for lv in row.item.answer_levels]
    return lists


def _list_ranges(lists: dict[str, list[str]]) -> dict[str, str]:
    """Where each list sits in the meta sheet (one column each from D): the source of its validation."""
    return {
        name: _absolute_range(3 + offset, 0, len(labels) - 1) for offset, (name, labels) in enumerate(lists.items())
    }


def _write_meta_sheet(workbook: xlsxwriter.Workbook, stamp: dict[str, str], lists: dict[str, list[str]]) -> None:
    """The very hidden sheet: the stamp in A:B, the choice lists from column D."""
    sheet = workbook.add_worksheet(META_SHEET)
    for row, (key, value) in enumerate(stamp.items()):
        sheet.write_string(row, 0, key)
        sheet.write_string(row, 1, value)
    for offset, labels in enumerate(lists.values()):
        for row, label in enumerate(labels):
            sheet.write_string(row, 3 + offset, label)
    sheet.protect()
    sheet.very_hidden()


def _write_cover(
    workbook: xlsxwriter.Workbook,
    fmt: dict[str, Any],
    plan: QuestionnairePlan,
    membership: Membership,
    lang: str,
    filled: Mapping[str, Any],
) -> None:
    texts = TEXTS[lang]
    sheet = workbook.add_worksheet(texts["sheet_cover"])
    sheet.hide_gridlines(2)
    sheet.set_column(0, 0, None, None, {"hidden": True})  # field keys, read back by ingestion
    sheet.set_column(1, 1, 36)
    sheet.set_column(2, 2, 60)
    sheet.merge_range(0, 1, 0, 2, texts["title"], fmt["title"])
    t_minus_1, t = plan.cycle.years
    facts = [
        ("member", f"{membership.name(lang)} ({membership.member_code})"),
        ("cycle", plan.cycle.id),
        ("year_t", str(t)),
        ("year_t1", str(t_minus_1)),
        ("language", lang),
    ]
    row = 2
    for key, value in facts:
        sheet.write_string(row, 1, texts[key], fmt["label_bold"])
        sheet.write_string(row, 2, value, fmt["label"])
        row += 1
    row += 1
    sheet.write_string(row, 1, texts["contact_heading"], fmt["section"])
    row += 1
    for key in ("submitted_at", "contact_name", "contact_role", "contact_email", "contact_phone"):
        sheet.write_string(row, 0, COVER_KEY_PREFIX + key)
        sheet.write_string(row, 1, texts[key], fmt["label_bold"])
        value = filled.get(key)
        if key == "submitted_at":
            if isinstance(value, dt.datetime):
                sheet.write_datetime(row, 2, value.replace(tzinfo=None), fmt["input_date"])
            else:
                sheet.write_blank(row, 2, None, fmt["input_date"])
            sheet.data_validation(
                row,
                2,
                row,
                2,
                {
                    "validate": "date",
                    "criteria": ">",
                    "value": dt.datetime(2000, 1, 1),
                    "input_title": texts["submitted_at"],
                    "input_message": texts["date_message"],
                },
            )
        elif value:
            sheet.write_string(row, 2, str(value), fmt["input_text"])
        else:
            sheet.write_blank(row, 2, None, fmt["input_text"])
        row += 1
    row += 1
    sheet.write_string(row, 1, texts["instructions_heading"], fmt["section"])
    row += 1
    sheet.merge_range(row, 1, row, 2, texts["instructions"], fmt["instructions"])
    sheet.set_row(row, 190)
    sheet.protect("", {"format_columns": True, "format_rows": True})
    sheet.activate()


def _write_answers(
    workbook: xlsxwriter.Workbook,
    fmt: dict[str, Any],
    plan: QuestionnairePlan,
    membership: Membership,
    lang: str,
    ranges: dict[str, str],
    answers: Mapping[tuple[str, int], Mapping[str, Any]],
) -> None:
    texts = TEXTS[lang]
    sheet = workbook.add_worksheet(texts["sheet_answers"])
    last_column = len(ANSWER_COLUMNS) - 1
    sheet.merge_range(
        0,
        0,
        0,
        last_column,
        f"{membership.name(lang)} ({membership.member_code}): {texts['cycle']} {plan.cycle.id},"
        f" T = {plan.cycle.reporting_year}",
        fmt["title"],
    )
    sheet.merge_range(1, 0, 1, last_column, texts["instructions"].split("\n")[0].removeprefix("1. "), fmt["help"])
    for column, key in enumerate(ANSWER_COLUMNS):
        sheet.set_column(column, column, ANSWER_WIDTHS[key])
        sheet.write_string(HEADER_ROW, column, texts[key], fmt["header"])
    sheet.freeze_panes(HEADER_ROW + 1, 1)
    sheet.set_row(HEADER_ROW, 30)
    row = HEADER_ROW + 1
    dimension = None
    for question in plan.rows:
        if question.dimension != dimension:
            dimension = question.dimension
            sheet.merge_range(
                row, 0, row, last_column, f"{dimension}. {texts[f'dimension_{dimension}']}", fmt["section"]
            )
            row += 1
        item = question.item
        answer = answers.get((item.code, question.year), {})
        sheet.write_string(row, 0, item.code, fmt["code"])
        sheet.write_string(row, 1, item.labels.in_language(lang), fmt["label"])
        sheet.write_string(row, 2, unit_label(item.unit, lang), fmt["label"])
        sheet.write_number(row, 3, question.year, fmt["year"])
        value_format = fmt["input_choice"] if item.is_categorical else fmt[f"input_{item.type.value}"]
        value = answer.get("value")
        if value is None:
            sheet.write_blank(row, 4, None, value_format)
        elif item.is_categorical:
            level = next((lv for lv in item.answer_levels if lv.code == value or value is (lv.code == "yes")), None)
            sheet.write_string(row, 4, level.labels.in_language(lang) if level else str(value), value_format)
        else:
            sheet.write_number(row, 4, value, value_format)
        validation = _value_validation(item, texts, ranges.get(item.code))
        if validation:
            sheet.data_validation(row, 4, row, 4, validation)
        status = answer.get("status")
        if status:
            sheet.write_string(row, 5, choice_label(status, lang), fmt["input_choice"])
        else:
            sheet.write_blank(row, 5, None, fmt["input_choice"])
        if answer.get("comment"):
            sheet.write_string(row, 6, answer["comment"], fmt["input_text"])
        else:
            sheet.write_blank(row, 6, None, fmt["input_text"])
        row += 1
    sheet.data_validation(
        HEADER_ROW + 1,
        5,
        row - 1,
        5,
        {
            "validate": "list",
            "source": ranges["status"],
            "input_title": texts["status"],
            "input_message": texts["list_message"],
            "error_title": texts["error_title"],
            "error_message": texts["error_list"],
        },
    )
    sheet.protect("", {"format_columns": True, "format_rows": True})


def _write_disclosure(
    workbook: xlsxwriter.Workbook,
    fmt: dict[str, Any],
    plan: QuestionnairePlan,
    lang: str,
    ranges: dict[str, str],
    disclosure: Mapping[str, str],
) -> None:
    texts = TEXTS[lang]
    sheet = workbook.add_worksheet(texts["sheet_disclosure"])
    last_column = len(DISCLOSURE_COLUMNS) - 1
    sheet.merge_range(0, 0, 0, last_column, texts["disclosure"], fmt["title"])
    sheet.merge_range(1, 0, 1, last_column, texts["disclosure_help"], fmt["help"])
    sheet.set_row(1, 28)
    for column, key in enumerate(DISCLOSURE_COLUMNS):
        sheet.set_column(column, column, DISCLOSURE_WIDTHS[key])
        sheet.write_string(HEADER_ROW, column, texts[key], fmt["header"])
    sheet.freeze_panes(HEADER_ROW + 1, 0)
    row = HEADER_ROW + 1
    for kpi_id, dimension, names in plan.kpis:
        sheet.write_string(row, 0, kpi_id, fmt["code"])
        sheet.write_string(row, 1, names[lang], fmt["label"])
        sheet.write_string(row, 2, f"{dimension}. {texts[f'dimension_{dimension}']}", fmt["label"])
        if kpi_id in disclosure:
            sheet.write_string(row, 3, choice_label(disclosure[kpi_id], lang), fmt["input_choice"])
        else:
            sheet.write_blank(row, 3, None, fmt["input_choice"])
        row += 1
    sheet.data_validation(
        HEADER_ROW + 1,
        3,
        row - 1,
        3,
        {
            "validate": "list",
            "source": ranges["disclosure"],
            "input_title": texts["disclosure"],
            "input_message": texts["list_message"],
            "error_title": texts["error_title"],
            "error_message": texts["error_list"],
        },
    )
    sheet.protect("", {"format_columns": True, "format_rows": True})


def render_questionnaire(
    catalogue: Catalogue,
    reference: Reference,
    cycle_id: str,
    member: str,
    lang: str | None = None,
    filled: Mapping[str, Any] | None = None,
    created: dt.datetime | None = None,
) -> bytes:
    """The questionnaire's bytes; `lang` defaults to the member's language, `filled` is a JSON-format document.

    Raises QuestionnaireError for an unknown cycle, a member not in force for it, or another language.
    """
    try:
        cycle = reference.cycles.get(cycle_id)
    except KeyError as err:
        raise QuestionnaireError(err.args[0]) from None
    in_force = reference.members_in_force(cycle)
    if member not in in_force:
        known = "known" if member in reference.known_member_codes() else "not in the members reference"
        raise QuestionnaireError(f"member {member!r} is not in force for cycle {cycle.id} ({known})")
    membership = in_force[member]
    lang = lang or membership.language
    if lang not in LANGUAGES:
        raise QuestionnaireError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
    plan = plan_questionnaire(catalogue, cycle)
    filled = filled or {}
    answers = {(a["item"], a["year"]): a for a in filled.get("answers", [])}
    cover: dict[str, Any] = {}
    if filled.get("submitted_at"):
        cover["submitted_at"] = dt.datetime.fromisoformat(filled["submitted_at"].replace("Z", "+00:00"))

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    stamp = build_stamp(plan, member, lang)
    workbook.set_properties(
        {
            "title": TEXTS[lang]["title"],
            "subject": f"{member} {cycle.id}",
            "created": created or dt.datetime.combine(cycle.collection.opens, dt.time()),
        }
    )
    fmt = _formats(workbook)
    lists = _choice_lists(plan, lang)
    ranges = _list_ranges(lists)
    _write_cover(workbook, fmt, plan, membership, lang, cover)
    _write_answers(workbook, fmt, plan, membership, lang, ranges, answers)
    _write_disclosure(workbook, fmt, plan, lang, ranges, filled.get("disclosure", {}))
    _write_meta_sheet(workbook, stamp, lists)
    workbook.close()
    return buffer.getvalue()
