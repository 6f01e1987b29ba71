"""Reading a filled Excel questionnaire (`pmm template`), or a flat export saved as .xlsx, with the cell of every answer.

The container is checked first (limits.py). openpyxl then reads it in read-only (streaming) mode,
with defusedxml refusing entities. A first pass reads formulas as formulas; only if some input
cell holds one, a second pass reads the values Excel cached for them: a formula whose value was
never computed (a file written by a program and never opened in Excel) cannot be trusted, so it
is reported rather than guessed.
"""

import io
import warnings
from dataclasses import dataclass
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from pmm_pipeline.ingestion.flat import FlatRow, as_year, clean, is_flat_header, parse_flat_rows, timestamp_text
from pmm_pipeline.ingestion.limits import DEFAULT_LIMITS, IntakeLimits, check_office_container
from pmm_pipeline.ingestion.numbers import PercentOfOne
from pmm_pipeline.ingestion.submission import (
    ANSWER_STATUSES,
    DISCLOSURE_LEVELS,
    Location,
    ParsedSubmission,
    Problem,
    RawAnswer,
    RejectedFile,
    TemplateStamp,
)
from pmm_pipeline.questionnaire.layout import (
    COVER_FIELDS,
    COVER_KEY_PREFIX,
    META_SHEET,
    STAMP_KEYS,
    TEMPLATE_FORMAT,
    header_aliases,
    read_choice,
    stamp_checksum,
)

HEADER_SEARCH_ROWS = 20  # a header row further down than this is not looked for
Grid = dict[tuple[int, int], "Cell"]


@dataclass
class Cell:
    value: Any
    is_formula: bool
    number_format: str


def _is_percent_format(number_format: str) -> bool:
    # '%' outside quoted literal text, e.g. 0.0% but not 0.0"%"
    return "%" in "".join(part for i, part in enumerate(number_format.split('"')) if i % 2 == 0)


def _load(data: bytes, data_only: bool) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions; they do not matter here
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only, keep_links=False)


def _read_grid(sheet: Any, limits: IntakeLimits) -> Grid:
    """The non-empty cells of a sheet; raises RejectedFile beyond the row or column limit.

    Cells right of the column limit are never read; the sheet's declared dimension tells whether
    it has any.
    """
    if (sheet.max_column or 0) > limits.max_columns:
        raise RejectedFile("too_many_columns", f"sheet {sheet.title!r} uses more than {limits.max_columns} columns")
    grid: Grid = {}
    for row_index, row in enumerate(sheet.iter_rows(max_col=limits.max_columns + 1), start=1):
        for column_index, cell in enumerate(row, start=1):
            value = getattr(cell, "value", None)
            if value is None or value == "":
                continue
            if column_index > limits.max_columns:
                raise RejectedFile(
                    "too_many_columns", f"sheet {sheet.title!r} uses more than {limits.max_columns} columns"
                )
            if row_index > limits.max_rows:
                raise RejectedFile("too_many_rows", f"sheet {sheet.title!r} has more than {limits.max_rows} rows")
            grid[(row_index, column_index)] = Cell(value, cell.data_type == "f", cell.number_format or "General")
    return grid


def _cached_values(data: bytes, grids: dict[str, Grid], limits: IntakeLimits) -> None:
    """Replace formulas in `grids` by the values Excel saved with them (None when it saved none)."""
    workbook = _load(data, data_only=True)
    try:
        for title, grid in grids.items():
            wanted = {key for key, cell in grid.items() if cell.is_formula}
            if not wanted:
                continue
            cached = _read_grid(workbook[title], limits)
            for key in wanted:
                grid[key].value = cached[key].value if key in cached else None
    finally:
        workbook.close()


def _where(sheet: str, row: int, column: int) -> Location:
    return Location(sheet=sheet, cell=f"{get_column_letter(column)}{row}")


def _header(grid: Grid, required: tuple[str, ...], keys: tuple[str, ...]) -> tuple[int, dict[str, int]] | None:
    """The header row (among the first rows) naming every `required` column, with the column of each key."""
    aliases = {key: header_aliases(key) for key in keys}
    for row in range(1, HEADER_SEARCH_ROWS + 1):
        columns: dict[str, int] = {}
        for (r, column), cell in grid.items():
            if r != row or not isinstance(cell.value, str):
                continue
            text = cell.value.strip().casefold()
            for key, names in aliases.items():
                if text in names:
                    columns.setdefault(key, column)
        if all(key in columns for key in required):
            return row, columns
    return None


class _SheetReader:
    """Cells of one grid by (row, column) with the checks every input cell needs."""

    def __init__(self, title: str, grid: Grid, problems: list[Problem]):
        self.title, self.grid, self.problems = title, grid, problems

    def rows(self, after: int) -> list[int]:
        return sorted({r for r, _ in self.grid if r > after})

    def value(self, row: int, column: int | None) -> Any:
        if column is None or (row, column) not in self.grid:
            return None
        cell = self.grid[(row, column)]
        if cell.is_formula and cell.value is None:
            self.problems.append(
                Problem(
                    "formula_without_value",
                    "the cell holds a formula whose result was never saved; type the value, or open and save the"
                    " file in Excel",
                    _where(self.title, row, column),
                )
            )
            return None
        value = cell.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _is_percent_format(cell.number_format):
            return PercentOfOne(float(value))
        return clean(value)


def _stamp(grid: Grid) -> dict[str, str]:
    return {
        str(cell.value).strip(): str(grid[(row, 2)].value).strip() if (row, 2) in grid else ""
        for (row, column), cell in sorted(grid.items())
        if column == 1 and cell.value is not None
    }


def _read_questionnaire(data: bytes, workbook: Any, limits: IntakeLimits) -> ParsedSubmission:
    stamp = _stamp(_read_grid(workbook[META_SHEET], limits))
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
    names = {key: stamp.get(f"{key}_sheet", "") for key in ("cover", "answers", "disclosure")}
    missing = [name for name in names.values() if name not in workbook.sheetnames]
    if missing:
        raise RejectedFile(
            "template_modified", f"sheet(s) {', '.join(map(repr, missing))} of the questionnaire are missing or renamed"
        )
    grids = {name: _read_grid(workbook[name], limits) for name in names.values()}
    if any(cell.is_formula for grid in grids.values() for cell in grid.values()):
        _cached_values(data, grids, limits)
    problems: list[Problem] = []
    cover = _SheetReader(names["cover"], grids[names["cover"]], problems)
    fields: dict[str, Any] = {}
    for (row, column), cell in sorted(cover.grid.items()):
        if isinstance(cell.value, str) and cell.value.startswith(COVER_KEY_PREFIX):
            key = cell.value.removeprefix(COVER_KEY_PREFIX)
            if key in COVER_FIELDS:
                fields[key] = cover.value(row, column + 2)
    submitted_at = fields.pop("submitted_at", None)
    if submitted_at is None and workbook.properties.modified is not None:
        submitted_at = workbook.properties.modified  # the last save, when the cover leaves the date empty

    answers_sheet = _SheetReader(names["answers"], grids[names["answers"]], problems)
    header = _header(answers_sheet.grid, ("item", "year", "value"), ("item", "year", "value", "status", "comment"))
    if header is None:
        raise RejectedFile(
            "template_modified", f"sheet {names['answers']!r} has no header row with item, year and value"
        )
    header_row, columns = header
    answers: list[RawAnswer] = []
    for row in answers_sheet.rows(after=header_row):
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
                location=_where(names["answers"], row, columns["value"]),
                has_value=value is not None,
            )
        )

    disclosure_sheet = _SheetReader(names["disclosure"], grids[names["disclosure"]], problems)
    header = _header(disclosure_sheet.grid, ("kpi", "disclosure"), ("kpi", "disclosure"))
    if header is None:
        raise RejectedFile(
            "template_modified", f"sheet {names['disclosure']!r} has no header row with kpi and disclosure"
        )
    header_row, columns = header
    disclosure: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    for row in disclosure_sheet.rows(after=header_row):
        kpi = disclosure_sheet.value(row, columns["kpi"])
        choice = disclosure_sheet.value(row, columns["disclosure"])
        if kpi is None or choice is None:
            continue
        where = _where(names["disclosure"], row, columns["disclosure"])
        if kpi in disclosure:
            problems.append(Problem("bad_disclosure", f"disclosure of {kpi!r} is given twice", where))
            continue
        disclosure[str(kpi)] = read_choice(choice, DISCLOSURE_LEVELS)
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
    )


def _read_flat_sheet(data: bytes, workbook: Any, limits: IntakeLimits) -> ParsedSubmission:
    """A workbook without questionnaire metadata: its first sheet whose header row is the flat export's."""
    for title in workbook.sheetnames:
        grid = _read_grid(workbook[title], limits)
        for header_row in range(1, HEADER_SEARCH_ROWS + 1):
            width = max((c for r, c in grid if r == header_row), default=0)
            header = [grid[(header_row, c)].value if (header_row, c) in grid else None for c in range(1, width + 1)]
            if not is_flat_header(header):
                continue
            if any(cell.is_formula for cell in grid.values()):
                _cached_values(data, {title: grid}, limits)
            problems: list[Problem] = []
            sheet = _SheetReader(title, grid, problems)
            rows = [
                FlatRow(
                    [sheet.value(row, c) for c in range(1, width + 1)],
                    lambda column, row=row, title=title: _where(title, row, column + 1),
                )
                for row in sheet.rows(after=header_row)
            ]
            parsed = parse_flat_rows(header, rows, "xlsx")
            parsed.problems[:0] = problems
            return parsed
    raise RejectedFile(
        "not_a_questionnaire",
        "the workbook is neither a PMM questionnaire (made with `pmm template`) nor a sheet in the flat export format",
    )


def _unreadable(err: Exception) -> RejectedFile:
    cause: BaseException | None = err
    while cause is not None:  # openpyxl wraps defusedxml's refusal in a ValueError
        if type(cause).__module__.startswith("defusedxml"):
            return RejectedFile("xml_entities", f"the workbook declares XML entities ({type(cause).__name__})")
        cause = cause.__cause__ or cause.__context__
    first_line = str(err).splitlines()[0] if str(err) else ""
    return RejectedFile("corrupt_workbook", f"is not a readable .xlsx workbook ({type(err).__name__}: {first_line})")


def read_xlsx_submission(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> ParsedSubmission:
    check_office_container(data, limits).close()
    try:
        workbook = _load(data, data_only=False)
    except RejectedFile:
        raise
    except Exception as err:  # openpyxl raises many kinds on a broken workbook; each means "unreadable"
        raise _unreadable(err) from None
    try:
        if META_SHEET in workbook.sheetnames:
            return _read_questionnaire(data, workbook, limits)
        return _read_flat_sheet(data, workbook, limits)
    except RejectedFile:
        raise
    except Exception as err:  # sheets are parsed lazily, so a broken one shows up only here
        raise _unreadable(err) from None
    finally:
        workbook.close()
