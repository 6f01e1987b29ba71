"""What to do about each problem, one advice per reason code and quality rule, fitted to the file the member sent.

An entry maps a key to the advice: a file format (`xlsx`, `csv`, `json`) when the advice differs by format, a
variant of the problem (`negative`, `above_100`) when the value tells more, and `*` for any file. Advice for one
format never names another format: a member who sent JSON is not told to save again from Excel. The texts are
gettext messages (English here, French and Spanish in the catalogues).
"""

import re
from pathlib import Path
from typing import Any

from pmm_pipeline.stages.publishing.i18n import N_, translator

FORMATS = ("xlsx", "csv", "json")
ANY = "*"

# Where a member writes a comment on an answer, in the format it sent.
COMMENT_PLACE: dict[str, str] = {
    "xlsx": N_("the Comment column of the questionnaire"),
    "csv": N_("the comment column of the file"),
    "json": N_('the "comment" field of the answer'),
    ANY: N_("a comment on that answer"),
}

ADVICE: dict[str, dict[str, str]] = {
    "empty_file": {ANY: N_("Send the file again; it arrived with no content.")},
    "file_too_large": {
        ANY: N_("Send only your answers, without extra data or attachments."),
        "xlsx": N_("Send only the questionnaire, without extra sheets, images or data."),
    },
    "unsupported_format": {ANY: N_("Send the questionnaire as .xlsx, or a .csv or .json export.")},
    "bad_file_name": {ANY: N_("Rename the file with letters, digits, '_' and '-' only, and send it again.")},
    "not_a_regular_file": {ANY: N_("Deliver the file itself, not a link or a folder.")},
    "duplicate_file": {ANY: N_("Nothing to do: the first copy is used.")},
    "member_mismatch": {
        ANY: N_("Check that you sent your own answers; rename the file so that it starts with your member code."),
    },
    "cycle_mismatch": {
        ANY: N_("Give the answers of this cycle, with this cycle's id, and send them again."),
        "xlsx": N_("Fill in the questionnaire of this cycle and send it again."),
    },
    "outdated_template": {
        ANY: N_("Use the questionnaire issued for this cycle now."),
        "xlsx": N_("Copy your answers into the questionnaire issued for this cycle now and send it again."),
    },
    "template_modified": {
        ANY: N_("Use a fresh copy of your questionnaire."),
        "xlsx": N_("Do not rename sheets or edit the grey cells; fill in a fresh copy of your questionnaire."),
    },
    "not_a_questionnaire": {
        ANY: N_("Use the questionnaire issued by the Secretariat."),
        "xlsx": N_("Use the Excel questionnaire issued by the Secretariat, or its flat export."),
    },
    "macro_enabled": {
        ANY: N_("Send the questionnaire without macros."),
        "xlsx": N_("Save the workbook as 'Excel Workbook (.xlsx)' and send it again."),
    },
    "encrypted_workbook": {
        ANY: N_("Remove the password and send the file again."),
        "xlsx": N_("Remove the password (File > Info > Protect workbook) and send it again."),
    },
    "external_links": {
        ANY: N_("Replace links to other files by their values and send the file again."),
        "xlsx": N_("Replace the links by their values (Data > Edit links > Break link) and send it again."),
    },
    "formula_without_value": {
        ANY: N_("Give the figure itself, not a formula."),
        "xlsx": N_("Type the figure instead of the formula, or open and save the file in Excel."),
    },
    "not_a_number": {
        ANY: N_("Give the figure as a number, without units or text."),
        "xlsx": N_("Type the figure in the cell as a number, without units or text."),
        "csv": N_("Write the figure in the value column as a number, without units or text."),
        "json": N_("Give the value as a JSON number: no quotes, no units, no text."),
    },
    "ambiguous_number": {ANY: N_("Write the figure without thousands separators (e.g. 1234 or 1.5).")},
    "inexact_number": {ANY: N_("Give the figure with at most 15 significant digits.")},
    "value_out_of_bounds": {ANY: N_("Check the figure: its size is not possible for this item (check the unit).")},
    "unknown_level": {ANY: N_("Choose one of the answers offered for this question.")},
    "bad_status": {ANY: N_("Use one of the statuses reported, not_applicable or not_available.")},
    "conflicting_status": {ANY: N_("Either delete the value or set the status to reported.")},
    "missing_value": {ANY: N_("Give the figure, or set the status to not_applicable or not_available.")},
    "unknown_item": {ANY: N_("Do not change item codes; use the item codes of this cycle's questionnaire.")},
    "year_out_of_range": {ANY: N_("Give figures for the years this cycle asks for only (T and T-1).")},
    "duplicate_answer": {ANY: N_("Keep one answer per item and year.")},
    "bad_disclosure": {ANY: N_("Choose public, wco or secretariat for each KPI.")},
    "unknown_kpi": {ANY: N_("Give disclosure choices only for the KPIs of this cycle, by their ids.")},
    "no_answers": {ANY: N_("The file holds no answer: fill in your answers and send it again.")},
    "unreadable_file": {
        ANY: N_("Send the file again; if it is rejected again, contact the WCO Secretariat."),
        "xlsx": N_("Open the file in Excel, save it again as .xlsx and send it."),
        "csv": N_("Export the CSV file again from your system and send it."),
        "json": N_("Write the JSON file again from your system and send it."),
    },
    "corrupt_workbook": {
        ANY: N_("The file is damaged: send a fresh copy."),
        "xlsx": N_("The workbook is damaged: open it in Excel, save it again as .xlsx and send it."),
    },
    "zip_bomb": {
        ANY: N_("Send the questionnaire alone, as you received it, without embedded content."),
        "xlsx": N_("Save the workbook again in Excel without embedded objects or extra sheets and send it."),
    },
    "xml_entities": {
        ANY: N_("Send the questionnaire as the Secretariat issued it, without hand-edited internals."),
        "xlsx": N_("Open the workbook in Excel, save it again as .xlsx and send it."),
    },
    "too_many_sheets": {
        ANY: N_("Send only the questionnaire's answers."),
        "xlsx": N_("Delete the sheets you added and send the questionnaire with its own sheets only."),
    },
    "too_many_rows": {
        ANY: N_("Send only your answers for this cycle, without other data."),
        "xlsx": N_("Delete the rows you added below the answers and send the file again."),
        "csv": N_("Keep one line per answer of this cycle and send the file again."),
        "json": N_("Keep one entry in answers per item and year and send the file again."),
    },
    "too_many_columns": {
        ANY: N_("Send only the questionnaire's columns."),
        "xlsx": N_("Delete the columns you added to the sheet and send the file again."),
        "csv": N_("Keep only the columns of the export and send the file again."),
    },
    "too_many_cells": {
        ANY: N_("Send only your answers."),
        "xlsx": N_("Clear the cells you filled outside the answer table and send the file again."),
    },
    "too_many_problems": {ANY: N_("Correct the first problems listed, then send the file again to see the rest.")},
    "bad_encoding": {
        ANY: N_("Save the file as UTF-8 text and send it again."),
        "csv": N_("Save the CSV file as UTF-8 text and send it again."),
    },
    "bad_text": {ANY: N_("Remove the invisible control characters from the text (retype it) and send it again.")},
    "text_too_long": {ANY: N_("Shorten the text (a comment or a name) and send the file again.")},
    "not_json": {
        ANY: N_("Write the file again from your system and send it."),
        "json": N_(
            "The file is not valid JSON at line {line}, column {column}: correct the syntax there (a missing"
            " comma, quote or bracket is the usual cause) and send it again."
        ),
    },
    "bad_structure": {
        ANY: N_("Keep the structure of the format you use and send the file again."),
        "json": N_("The file must be one JSON object with the fields of a PMM submission and a list of answers."),
        "csv": N_("Keep one answer per line with the columns of the export, and one header line."),
        "xlsx": N_("Keep one answer per row of the export sheet, each row with an item or a KPI, not both."),
    },
    "inconsistent_rows": {ANY: N_("Send one file per member and cycle.")},
    "missing_field": {
        ANY: N_("Give every required field and send the file again."),
        "json": N_("Add the missing JSON field named in the details and send the file again."),
    },
    "unknown_field": {
        ANY: N_("Remove the field named in the details and send the file again."),
        "json": N_("Remove the JSON field named in the details (check its spelling) and send the file again."),
    },
    "wrong_format": {
        ANY: N_("Send a PMM submission."),
        "json": N_('Give "format": "pmm-submission" in the JSON object.'),
    },
    "unsupported_format_version": {
        ANY: N_("Use the submission format of this cycle."),
        "json": N_('Give "format_version": 1 in the JSON object.'),
    },
    "missing_column": {
        ANY: N_("Export again with the columns member, cycle, submitted_at, item, year, value."),
    },
    "bad_timestamp": {
        ANY: N_("Give the date of submission as a date and time (YYYY-MM-DDTHH:MM:SSZ), not in the future."),
        "xlsx": N_("Give the date of submission on the cover sheet as a date (YYYY-MM-DD)."),
    },
    "unknown_member": {
        ANY: N_("Give your administration's code (ISO 3166 alpha-3, e.g. KEN) as member."),
        "xlsx": N_("Use the questionnaire issued to your administration: its cover names your member code."),
    },
    "member_not_in_cycle": {ANY: N_("Contact the WCO Secretariat.")},
    "intake_failed": {
        ANY: N_("Nothing to do: the file is tried again on the next run. If this stays, contact the WCO Secretariat."),
    },
    "archive_corrupt": {ANY: N_("Send the same file again; until then this version is not used.")},
    "archive_missing": {ANY: N_("Send the same file again; until then this version is not used.")},
    "cycle_closed": {
        ANY: N_("The collection of this cycle is closed. Contact the WCO Secretariat if your file must still be used."),
    },
    "wrong_member": {
        ANY: N_("Your account sends for your own administration only: send your own questionnaire (download it here)."),
    },
    # Quality rules: the answer was read; what to check about it.
    "known_codes": {ANY: N_("Use the codes and answers offered in the questionnaire of this cycle.")},
    "one_answer_per_item_year": {ANY: N_("Keep one answer per item and year.")},
    "values_match_item_type": {
        ANY: N_("Counts are whole numbers; a question with a list takes one answer from its list."),
    },
    "values_within_range": {
        ANY: N_("Check the figure and its unit (e.g. units, not thousands)."),
        "negative": N_("A count or an amount cannot be negative: check the sign."),
        "above_100": N_("A percentage cannot be above 100: check the figure (a share, not a count)."),
    },
    "part_not_above_whole": {ANY: N_("Check both figures: a part cannot exceed the total it belongs to.")},
    "required_items_present": {ANY: N_("Give the figure, or say it is not applicable or not available.")},
    "variation_years_present": {ANY: N_("Give the figure for the previous year (T-1) too.")},
    "yoy_change_within_band": {ANY: N_("Confirm the figure, or explain the change in {comment_place}.")},
    "t_minus_1_matches_earlier_cycle": {
        ANY: N_("Confirm it is a revision and say why in {comment_place}, or give the earlier figure."),
    },
    "value_near_peer_median": {
        ANY: N_("Check the figures behind it; if they are right, explain them in {comment_place}."),
    },
    "magnitude_consistent_with_history": {
        ANY: N_(
            "Check the unit (units, thousands, millions) and correct the figure, or explain it in {comment_place}."
        ),
    },
}

_JSON_POSITION = re.compile(r"line (?P<line>\d+) column (?P<column>\d+)")


def format_of(file_name: str | None) -> str | None:
    """The format a member sent, from its file's suffix (what decided which reader read it)."""
    suffix = Path(file_name or "").suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def variant_of(code: str, value: Any, item_type: str | None) -> str | None:
    """What the value tells about a range problem: a negative figure, a percentage above 100."""
    if code != "values_within_range" or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if value < 0:
        return "negative"
    if item_type == "percent" and value > 100:
        return "above_100"
    return None


def json_position(message: str | None) -> tuple[int, int] | None:
    """(line, column) of a JSON syntax error, from the reader's message (Python's json module words it)."""
    match = _JSON_POSITION.search(message or "")
    return (int(match["line"]), int(match["column"])) if match else None


def advice(
    code: str, lang: str, file_format: str | None = None, variant: str | None = None, message: str | None = None
) -> str:
    """What to do about `code` in `lang`, for the format the member sent (None: unknown, so no format named)."""
    _ = translator(lang)
    entry = ADVICE.get(code)
    if entry is None:
        return ""
    key = next((k for k in (variant, file_format) if k and k in entry), ANY)
    text = entry[key] if key in entry else next(iter(entry.values()))
    if code == "not_json" and key == "json":
        position = json_position(message)
        if position is None:
            return _(ADVICE["unreadable_file"]["json"])
        return _(text).format(line=position[0], column=position[1])
    if "{comment_place}" in text:
        return _(text).format(comment_place=_(COMMENT_PLACE.get(file_format or ANY, COMMENT_PLACE[ANY])))
    return _(text)
