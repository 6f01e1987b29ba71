"""The words of a member's feedback report, in English, marked for the gettext catalogues (domain `pmm`).

French and Spanish are in pmm_pipeline/locale/<lang>/LC_MESSAGES/pmm.po, which a translator edits without Python
(stages/publishing/i18n.py compiles and loads them; a test fails when a message lacks its translation). Titles of
problems are here, one per reason code and quality rule; what to do about each is in advice.py.
`HEADINGS[lang][key]` and `PROBLEMS[code][lang]` (title, what to do) give the words in a language.
"""

from collections.abc import Iterator, Mapping
from functools import cache

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.stages.publishing.i18n import N_, translator

HEADING_TEXTS: dict[str, str] = {
    "sheet_summary": N_("Summary"),
    "sheet_problems": N_("Problems"),
    "sheet_files": N_("Files received"),
    "title": N_("PMM validation report"),
    "member": N_("Member"),
    "cycle": N_("Cycle"),
    "generated": N_("Produced on"),
    "intro": N_(
        "This report lists every problem found in what you sent for this cycle. Problems marked"
        " 'Blocking' keep a file or your answers out of the results until you send a corrected file;"
        " 'Warning' asks you to confirm or explain a figure (a comment on the answer is enough)."
    ),
    "n_blocking": N_("Blocking problems"),
    "n_warning": N_("Warnings"),
    "severity": N_("Severity"),
    "file": N_("File"),
    "where": N_("Where in the file"),
    "item": N_("Item"),
    "question": N_("Question"),
    "year": N_("Year"),
    "value": N_("Value"),
    "rule": N_("Problem"),
    "what_to_do": N_("What to do"),
    "details": N_("Details"),
    "your_comment": N_("Your comment"),
    "original_message": N_("Recorded message (English, for the Secretariat)"),
    "received_at": N_("Received (UTC)"),
    "outcome": N_("Outcome"),
    "reason": N_("Reason"),
    "blocking": N_("Blocking"),
    "warning": N_("Warning"),
    "accepted": N_("Accepted (version {version})"),
    "accepted_latest": N_("Accepted (version {version}, in use)"),
    "rejected": N_("Rejected"),
    "duplicate": N_("Duplicate, not read again"),
    "archive_corrupt": N_("Stored copy damaged, not used"),
    "archive_missing": N_("Stored copy missing, not used"),
    "sheet_cell": N_("sheet {sheet}, cell {cell}"),
    "line": N_("line {line}"),
    "whole_file": N_("whole file"),
    "generic_title": N_("Problem ({code})"),
    "generic_action": N_("Read the details and correct the file."),
    "quality_title": N_("Quality check: {code}"),
    "quality_action": N_("Check the figure; correct it, or explain it in a comment on that answer."),
    # The verdict that opens the report (stages/feedback/verdict.py decides it).
    "verdict": N_("What became of your submission"),
    "verdict_used": N_(
        "Version {version} of {date} (file {file}) is the version used for the results of cycle {cycle}."
    ),
    "verdict_used_clean": N_("It passed every check: there is nothing to do."),
    "verdict_used_warnings": N_(
        "It passed the checks that keep data out of the results. {n} warning(s) ask you to confirm or explain a"
        " figure: see the Problems sheet."
    ),
    "verdict_kpis_used": N_(
        "Your KPIs are computed from this version and published in the tiers your disclosure choices allow."
    ),
    "verdict_kpis_missing": N_("These KPIs cannot be computed until the missing answers are given: {kpis}."),
    "verdict_later_rejected": N_(
        "The file {file} you sent on {date} was rejected ({reason}): it is not used. Version {version} stays in"
        " use until a corrected file is accepted."
    ),
    "verdict_later_rejected_unused": N_(
        "The file {file} you sent on {date} was rejected ({reason}): it is not used either."
    ),
    "verdict_newer_late": N_(
        "Version {version} (file {file}, received {date}) arrived after the collection closed: it is kept on"
        " record but not used."
    ),
    "verdict_newer_lost": N_(
        "Version {version} (file {file}) is not used: the stored copy of the file is damaged or missing. Send"
        " the same file again."
    ),
    "verdict_blocked": N_(
        "Version {version} of {date} (file {file}) was received, but the quality checks found {n} blocking"
        " problem(s) in it: your data are excluded from the results of cycle {cycle}."
    ),
    "verdict_blocked_kpis": N_(
        "None of your KPIs is computed or published for this cycle, and you are not counted among the members"
        " that reported, until a corrected file passes the checks."
    ),
    "verdict_rejected_only": N_(
        "No version of your submission is used: every file you sent for cycle {cycle} was rejected (see the"
        " Problems sheet)."
    ),
    "verdict_not_used": N_("No version of your submission is used for the results of cycle {cycle}."),
    "verdict_none_kpis": N_("None of your KPIs is computed or published for this cycle until a file is accepted."),
    "deadline": N_("Deadline"),
    "deadline_open": N_("Send a corrected file by {date} (end of the day): a file received later is not used."),
    "deadline_reopened": N_(
        "The cycle is reopened: a corrected file is used if it arrives by {date} (end of the day)."
    ),
    "deadline_closed": N_(
        "The collection closed on {date}: a file sent now is recorded but not used unless the Secretariat"
        " reopens the cycle."
    ),
    "where_to_send": N_("Where to send a correction"),
    "send_platform": N_("Upload it on the member platform: {url}"),
    "send_email": N_("Questions, or no access to the platform: write to {email}"),
    "send_secretariat": N_("Questions, or no access to the platform: contact the WCO Secretariat."),
    "receipt": N_("Receipt"),
    "receipt_version": N_("Version"),
    "receipt_received": N_("Received (UTC)"),
    "receipt_next": N_("What happens next"),
    "receipt_next_text": N_(
        "Your answers are used for the KPIs of cycle {cycle}, published on {date}. A new file sent before the"
        " deadline replaces this version."
    ),
    "receipt_next_closed": N_("Your answers are used for the KPIs of cycle {cycle}, published on {date}."),
    "detail_answer": N_("{title}: {question} [{item}], year {year}, value {value}."),
    "detail_answer_no_value": N_("{title}: {question} [{item}], year {year}."),
    "detail_item": N_("{title}: {question} [{item}]."),
    "detail_file": N_("{title}, in {place}."),
    "detail_json_syntax": N_("The file is not valid JSON at line {line}, column {column}."),
}

# code -> title of the problem, one per reason code of the intake (docs/formats.md) and per quality rule.
TITLES: dict[str, str] = {
    "empty_file": N_("Empty file"),
    "file_too_large": N_("File too large"),
    "unsupported_format": N_("File type not accepted"),
    "bad_file_name": N_("File name not accepted"),
    "not_a_regular_file": N_("Not a file"),
    "duplicate_file": N_("Same file sent twice"),
    "member_mismatch": N_("File name and content name different members"),
    "cycle_mismatch": N_("Questionnaire of another cycle"),
    "outdated_template": N_("Outdated questionnaire"),
    "template_modified": N_("Questionnaire structure changed"),
    "not_a_questionnaire": N_("Not a PMM questionnaire"),
    "macro_enabled": N_("Workbook with macros"),
    "encrypted_workbook": N_("Workbook protected by a password"),
    "external_links": N_("Links to other workbooks"),
    "formula_without_value": N_("Formula without a result"),
    "not_a_number": N_("Not a number"),
    "ambiguous_number": N_("Number that can be read two ways"),
    "inexact_number": N_("Number with too many digits"),
    "value_out_of_bounds": N_("Number of an impossible size"),
    "unknown_level": N_("Answer not in the list"),
    "bad_status": N_("Unknown status"),
    "conflicting_status": N_("Value given with 'not applicable' or 'not available'"),
    "missing_value": N_("Answer without a value"),
    "unknown_item": N_("Unknown item code"),
    "year_out_of_range": N_("Year not asked in this cycle"),
    "duplicate_answer": N_("Item answered twice"),
    "bad_disclosure": N_("Unknown disclosure choice"),
    "unknown_kpi": N_("Unknown KPI in the disclosure choices"),
    "no_answers": N_("No answer in the file"),
    "unreadable_file": N_("File cannot be read safely"),
    "corrupt_workbook": N_("Damaged workbook"),
    "zip_bomb": N_("File that expands to an excessive size"),
    "xml_entities": N_("Workbook with unsafe XML declarations"),
    "too_many_sheets": N_("Too many sheets"),
    "too_many_rows": N_("Too many rows"),
    "too_many_columns": N_("Too many columns"),
    "too_many_cells": N_("Too many filled cells"),
    "too_many_problems": N_("Too many problems: reading stopped"),
    "bad_encoding": N_("Text encoding not recognized"),
    "bad_text": N_("Invisible control characters in a text"),
    "text_too_long": N_("Text too long"),
    "not_json": N_("Not valid JSON"),
    "bad_structure": N_("Unexpected structure"),
    "inconsistent_rows": N_("Rows of different members or cycles"),
    "missing_field": N_("Required field missing"),
    "unknown_field": N_("Unknown field"),
    "wrong_format": N_("Not a PMM submission"),
    "unsupported_format_version": N_("Submission format version not supported"),
    "missing_column": N_("Columns missing from the export"),
    "bad_timestamp": N_("Date of submission not readable or not plausible"),
    "unknown_member": N_("Member code not recognized"),
    "member_not_in_cycle": N_("Member not taking part in this cycle"),
    "intake_failed": N_("File not taken in yet"),
    "archive_corrupt": N_("Stored copy of your file damaged"),
    "archive_missing": N_("Stored copy of your file missing"),
    "cycle_closed": N_("Cycle not taking submissions now"),
    "wrong_member": N_("Questionnaire of another member"),
    # Quality rules (stages/quality/rules.py).
    "known_codes": N_("Unknown code"),
    "one_answer_per_item_year": N_("Item answered twice in a year"),
    "values_match_item_type": N_("Value of the wrong kind"),
    "values_within_range": N_("Value outside the accepted range"),
    "part_not_above_whole": N_("A part is larger than its total"),
    "required_items_present": N_("Answer missing"),
    "variation_years_present": N_("Previous year missing"),
    "yoy_change_within_band": N_("Large change from the previous year"),
    "t_minus_1_matches_earlier_cycle": N_("Previous year differs from your earlier report"),
    "value_near_peer_median": N_("Far from comparable administrations"),
    "magnitude_consistent_with_history": N_("Very different from your earlier figures"),
}


class _PerLanguage(Mapping):
    """A read-only mapping language -> words, translated when looked up (no catalogue is read at import)."""

    def __init__(self, words_in):
        self._words_in = words_in

    def __getitem__(self, lang: str):
        if lang not in LANGUAGES:
            raise KeyError(lang)
        return self._words_in(lang)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


@cache  # looked up for every row of every report; the catalogues do not change while the code runs
def headings(lang: str) -> dict[str, str]:
    _ = translator(lang)
    return {key: _(text) for key, text in HEADING_TEXTS.items()}


def title(code: str, lang: str) -> str:
    return translator(lang)(TITLES[code])


class _Problems(Mapping):
    """code -> language -> (title, what to do when nothing more is known of the file)."""

    def __getitem__(self, code: str):
        from pmm_pipeline.stages.feedback.advice import advice  # advice.py imports this module

        if code not in TITLES:
            raise KeyError(code)
        return _PerLanguage(lambda lang: (title(code, lang), advice(code, lang)))

    def __iter__(self) -> Iterator[str]:
        return iter(TITLES)

    def __len__(self) -> int:
        return len(TITLES)


HEADINGS: Mapping[str, dict[str, str]] = _PerLanguage(headings)
PROBLEMS: Mapping[str, Mapping[str, tuple[str, str]]] = _Problems()
