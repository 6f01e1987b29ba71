"""Reading a filled Excel questionnaire (`pmm template`): its hidden stamp, cover, answers and disclosure, by cell."""

from typing import Any

from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.core.vocabulary import ANSWER_STATUSES, TIERS
from pmm_pipeline.stages.ingestion.flat import as_year, timestamp_text
from pmm_pipeline.stages.ingestion.submission import (
    Location,
    ParsedSubmission,
    Problem,
    ProblemList,
    RawAnswer,
    RejectedFile,
    TemplateStamp,
)
from pmm_pipeline.stages.ingestion.text import quote
from pmm_pipeline.stages.ingestion.xlsx_workbook import (
    Grid,
    SheetReader,
    Workbook,
    cell_location,
    find_header,
    read_grid,
)
from pmm_pipeline.stages.questionnaire.layout import (
    COVER_FIELDS,
    COVER_KEY_PREFIX,
    META_SHEET,
    STAMP_KEYS,
    TEMPLATE_FORMAT,
    read_choice,
    stamp_checksum,
)


def _stamp(grid: Grid) -> tuple[dict[str, str], dict[str, Location]]:
    """The key/value pairs of the hidden metadata sheet, and the cell of each value."""
    stamp: dict[str, str] = {}
    cells: dict[str, Location] = {}
    for (row, column), cell in sorted(grid.items()):
        if column == 1 and cell.value is not None:
            key = str(cell.value).strip()
            stamp[key] = str(grid[(row, 2)].value).strip() if (row, 2) in grid else ""
            cells[key] = cell_location(META_SHEET, row, 2)
    return stamp, cells


def read_questionnaire(workbook: Workbook, limits: IntakeLimits) -> ParsedSubmission:
    stamp, stamp_cells = _stamp(read_grid(workbook, META_SHEET))
    if stamp.get("format") != TEMPLATE_FORMAT:
        raise RejectedFile("not_a_questionnaire", "the workbook's hidden metadata is not that of a PMM questionnaire")
    template = TemplateStamp(
        template_version=stamp.get("template_version"),
        member=stamp.get("member"),
        cycle=stamp.get("cycle"),
        language=stamp.get("language"),
        questionnaire_digest=stamp.get("questionnaire_digest"),
        checksum_matches=stamp_checksum(stamp) == stamp.get("checksum") and all(k in stamp for k in STAMP_KEYS),
    )
    try:
        return _read_questionnaire_sheets(workbook, limits, stamp, template, stamp_cells)
    except RejectedFile as rejected:
        rejected.member = template.member  # the stamp says whose questionnaire it is: that member hears of it
        raise


def _read_questionnaire_sheets(
    workbook: Workbook,
    limits: IntakeLimits,
    stamp: dict[str, str],
    template: TemplateStamp,
    stamp_cells: dict[str, Location],
) -> ParsedSubmission:
    names = {key: stamp.get(f"{key}_sheet", "") for key in ("cover", "answers", "disclosure")}
    missing = [name for name in names.values() if name not in workbook.sheetnames]
    if missing:
        raise RejectedFile(
            "template_modified",
            f"sheet(s) {', '.join(map(quote, missing))} of the questionnaire are missing or renamed",
        )
    grids = {name: read_grid(workbook, name) for name in names.values()}
    problems = ProblemList(limits.max_problems)
    cover = SheetReader(names["cover"], grids[names["cover"]], problems)
    fields: dict[str, Any] = {}
    field_locations = {key: stamp_cells[key] for key in ("member", "cycle") if key in stamp_cells}
    for (row, column), cell in sorted(cover.grid.items()):
        if isinstance(cell.value, str) and cell.value.startswith(COVER_KEY_PREFIX):
            key = cell.value.removeprefix(COVER_KEY_PREFIX)
            if key in COVER_FIELDS:
                fields[key] = cover.value(row, column + 2)
                field_locations[key] = cell_location(names["cover"], row, column + 2)
    submitted_at = fields.pop("submitted_at", None)
    if submitted_at is None and workbook.properties.modified is not None:
        submitted_at = workbook.properties.modified  # the last save, when the cover leaves the date empty

    answers_sheet = SheetReader(names["answers"], grids[names["answers"]], problems)
    header = find_header(answers_sheet.grid, ("item", "year", "value"), ("item", "year", "value", "status", "comment"))
    if header is None:
        raise RejectedFile(
            "template_modified", f"sheet {names['answers']!r} has no header row with item, year and value"
        )
    header_row, columns = header
    answers: list[RawAnswer] = []
    for row in answers_sheet.rows(after=header_row):
        if problems.overflowed:
            break
        value = answers_sheet.value(row, columns["value"])
        status = answers_sheet.value(row, columns.get("status"))
        comment = answers_sheet.value(row, columns.get("comment"))
        if value is None and status is None and comment is None:
            continue  # a question left unanswered, a section heading or a blank row
        item = answers_sheet.value(row, columns["item"])
        answers.append(
            RawAnswer(
                item=item,
                year=as_year(answers_sheet.value(row, columns["year"])),
                value=value,
                status=read_choice(status, ANSWER_STATUSES),
                comment=None if comment is None else str(comment),
                location=cell_location(names["answers"], row, columns["value"]),
                has_value=value is not None,
            )
        )

    disclosure_sheet = SheetReader(names["disclosure"], grids[names["disclosure"]], problems)
    header = find_header(disclosure_sheet.grid, ("kpi", "disclosure"), ("kpi", "disclosure"))
    if header is None:
        raise RejectedFile(
            "template_modified", f"sheet {names['disclosure']!r} has no header row with kpi and disclosure"
        )
    header_row, columns = header
    disclosure: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    for row in disclosure_sheet.rows(after=header_row):
        if problems.overflowed:
            break
        kpi = disclosure_sheet.value(row, columns["kpi"])
        choice = disclosure_sheet.value(row, columns["disclosure"])
        if kpi is None or choice is None:
            continue
        where = cell_location(names["disclosure"], row, columns["disclosure"])
        if kpi in disclosure:
            problems.append(Problem("bad_disclosure", f"disclosure of {quote(kpi)} is given twice", where))
            continue
        disclosure[str(kpi)] = read_choice(choice, TIERS)
        locations[str(kpi)] = where

    return ParsedSubmission(
        format="xlsx",
        member=template.member,
        cycle=template.cycle,
        submitted_at=timestamp_text(submitted_at),
        answers=answers,
        disclosure=disclosure,
        problems=problems,
        numbers_as_text=True,
        template=template,
        disclosure_locations=locations,
        contact={k: str(v) for k, v in fields.items() if v is not None},
        field_locations=field_locations,
    )
