"""Reading a filled Excel questionnaire (`pmm template`), or a flat export saved as .xlsx, with the
cell of every answer.

The container is checked first (limits.py). openpyxl then reads it in read-only (streaming) mode,
with defusedxml refusing entities. Cells are read as written (formulas as formulas); from a
sheet's first formula on, the same sheet is also streamed for the values Excel cached, row by
row in step, so that each formula cell gets its saved value in the same pass. A formula whose
value was never computed (a file written by a program and never opened in Excel) cannot be
trusted, so it is reported rather than guessed; past PMM_MAX_PROBLEMS of them, or past
PMM_MAX_CELLS non-empty cells, reading stops and the file is rejected: a small workbook of
hundreds of thousands of formulas costs the cells read up to that point, not the whole sheet.
"""

import io
import warnings
from dataclasses import dataclass
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet import _read_only, _reader
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.xml.functions import iterparse

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.core.vocabulary import ANSWER_STATUSES, TIERS
from pmm_pipeline.stages.ingestion.flat import FlatRow, as_year, clean, is_flat_header, parse_flat_rows, timestamp_text
from pmm_pipeline.stages.ingestion.limits import check_office_container
from pmm_pipeline.stages.ingestion.numbers import PercentOfOne
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
from pmm_pipeline.stages.questionnaire.layout import (
    COVER_FIELDS,
    COVER_KEY_PREFIX,
    META_SHEET,
    STAMP_KEYS,
    TEMPLATE_FORMAT,
    header_aliases,
    read_choice,
    stamp_checksum,
)

# Workbooks from members are parsed through defusedxml, never lxml (which resolves entities): see
# pmm_pipeline/__init__.py. Checked once here, where received workbooks are opened, so that a process that
# imported openpyxl before the package fails loudly instead of reading hostile XML.
if openpyxl.xml.LXML or not openpyxl.xml.DEFUSEDXML:
    raise ImportError(
        "openpyxl would parse received workbooks without defusedxml (lxml in use or defusedxml missing):"
        " import pmm_pipeline before openpyxl, or set OPENPYXL_LXML=False"
    )

HEADER_SEARCH_ROWS = 20  # a header row further down than this is not looked for


def _declared_size(self: Any) -> None:
    """ReadOnlyWorksheet._get_size, stopping where the sheet's cells begin.

    openpyxl looks for a sheet's `<dimension>` when it opens the workbook, but waits for the end
    of `<sheetData>` to give up when there is none: a hand-made sheet without one was parsed whole
    (14 s for 450 000 cells) before reading even began, and again for the cached values. Watching
    start tags finds the same dimension, or its absence, at the first cell.
    """
    source = self._get_source()
    try:
        for _event, element in iterparse(source, events=("start",)):
            if element.tag == _reader.DIMENSION_TAG:
                boundaries = SheetDimension.from_tree(element).boundaries
                if boundaries is not None:
                    self._min_column, self._min_row, self._max_column, self._max_row = boundaries
                return
            if element.tag == _reader.DATA_TAG:
                return
    finally:
        source.close()


# test_intake_content (the 450 000-formula workbook) fails if openpyxl renames the method and the patch is lost.
if hasattr(_read_only.ReadOnlyWorksheet, "_get_size"):
    _read_only.ReadOnlyWorksheet._get_size = _declared_size
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


class _Workbook:
    """A workbook read for formulas, the same bytes read for cached values when a formula needs them, and
    the count of cells read so far (against the limits, across every sheet)."""

    def __init__(self, data: bytes, limits: IntakeLimits):
        self.data, self.limits = data, limits
        self.formulas = _load(data, data_only=False)
        self._values: Any = None
        self.cells = 0
        self.uncached = 0  # formula cells without a saved value

    @property
    def sheetnames(self) -> list[str]:
        return self.formulas.sheetnames

    @property
    def properties(self) -> Any:
        return self.formulas.properties

    def cached_rows(self, title: str, from_row: int) -> Any:
        if self._values is None:
            self._values = _load(self.data, data_only=True)
        return self._values[title].iter_rows(min_row=from_row, max_col=self.limits.max_columns + 1)

    def close(self) -> None:
        self.formulas.close()
        if self._values is not None:
            self._values.close()


def _read_grid(book: _Workbook, title: str) -> Grid:
    """The non-empty cells of a sheet, a formula cell with the value Excel saved for it (None without one).

    Raises RejectedFile beyond the row, column or cell limit, or past PMM_MAX_PROBLEMS formulas
    without a saved value; cells right of the column limit are never read (the sheet's declared
    dimension tells whether it has any).
    """
    limits, sheet = book.limits, book.formulas[title]
    if (sheet.max_column or 0) > limits.max_columns:
        raise RejectedFile("too_many_columns", f"sheet {quote(title)} uses more than {limits.max_columns} columns")
    grid: Grid = {}
    cached_rows = None  # the sheet's cached values, in step with `row` from its first formula on
    for row_index, row in enumerate(sheet.iter_rows(max_col=limits.max_columns + 1), start=1):
        cached = next(cached_rows, ()) if cached_rows is not None else ()
        for column_index, cell in enumerate(row, start=1):
            value = getattr(cell, "value", None)
            if value is None or value == "":
                continue
            if column_index > limits.max_columns:
                raise RejectedFile(
                    "too_many_columns", f"sheet {quote(title)} uses more than {limits.max_columns} columns"
                )
            if row_index > limits.max_rows:
                raise RejectedFile("too_many_rows", f"sheet {quote(title)} has more than {limits.max_rows} rows")
            book.cells += 1
            if book.cells > limits.max_cells:
                raise RejectedFile(
                    "too_many_cells",
                    f"the workbook has more than {limits.max_cells} filled cells (reading stopped at sheet"
                    f" {quote(title)}, cell {get_column_letter(column_index)}{row_index})",
                )
            is_formula = cell.data_type == "f"
            if is_formula:
                if cached_rows is None:
                    cached_rows = book.cached_rows(title, row_index)
                    cached = next(cached_rows, ())
                saved = cached[column_index - 1] if column_index <= len(cached) else None
                in_step = getattr(saved, "row", row_index) == row_index  # never another row's value
                value = getattr(saved, "value", None) if in_step else None
                if value == "":
                    value = None
                if value is None:
                    book.uncached += 1
                    if book.uncached > limits.max_problems:
                        raise RejectedFile(
                            "too_many_problems",
                            f"over {limits.max_problems} cells hold a formula whose result was never saved; reading"
                            f" stopped at sheet {quote(title)}, cell {get_column_letter(column_index)}{row_index}:"
                            " type the values, or open and save the file in Excel",
                            _where(title, row_index, column_index),
                        )
            grid[(row_index, column_index)] = Cell(value, is_formula, cell.number_format or "General")
    return grid


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

    def __init__(self, title: str, grid: Grid, problems: ProblemList):
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


def _stamp(grid: Grid) -> tuple[dict[str, str], dict[str, Location]]:
    """The key/value pairs of the hidden metadata sheet, and the cell of each value."""
    stamp: dict[str, str] = {}
    cells: dict[str, Location] = {}
    for (row, column), cell in sorted(grid.items()):
        if column == 1 and cell.value is not None:
            key = str(cell.value).strip()
            stamp[key] = str(grid[(row, 2)].value).strip() if (row, 2) in grid else ""
            cells[key] = _where(META_SHEET, row, 2)
    return stamp, cells


def _read_questionnaire(workbook: _Workbook, limits: IntakeLimits) -> ParsedSubmission:
    stamp, stamp_cells = _stamp(_read_grid(workbook, META_SHEET))
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
    workbook: _Workbook,
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
    grids = {name: _read_grid(workbook, name) for name in names.values()}
    problems = ProblemList(limits.max_problems)
    cover = _SheetReader(names["cover"], grids[names["cover"]], problems)
    fields: dict[str, Any] = {}
    field_locations = {key: stamp_cells[key] for key in ("member", "cycle") if key in stamp_cells}
    for (row, column), cell in sorted(cover.grid.items()):
        if isinstance(cell.value, str) and cell.value.startswith(COVER_KEY_PREFIX):
            key = cell.value.removeprefix(COVER_KEY_PREFIX)
            if key in COVER_FIELDS:
                fields[key] = cover.value(row, column + 2)
                field_locations[key] = _where(names["cover"], row, column + 2)
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
        if problems.overflowed:
            break
        kpi = disclosure_sheet.value(row, columns["kpi"])
        choice = disclosure_sheet.value(row, columns["disclosure"])
        if kpi is None or choice is None:
            continue
        where = _where(names["disclosure"], row, columns["disclosure"])
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


def _read_flat_sheet(workbook: _Workbook, limits: IntakeLimits) -> ParsedSubmission:
    """A workbook without questionnaire metadata: its first sheet whose header row is the flat export's."""
    for title in workbook.sheetnames:
        grid = _read_grid(workbook, title)
        for header_row in range(1, HEADER_SEARCH_ROWS + 1):
            width = max((c for r, c in grid if r == header_row), default=0)
            header = [grid[(header_row, c)].value if (header_row, c) in grid else None for c in range(1, width + 1)]
            if not is_flat_header(header):
                continue
            problems = ProblemList(limits.max_problems)
            sheet = _SheetReader(title, grid, problems)
            rows = (  # lazily, so that reading stops with parse_flat_rows once the problems overflow
                FlatRow(
                    [sheet.value(row, c) for c in range(1, width + 1)],
                    lambda column, row=row, title=title: _where(title, row, column + 1),
                )
                for row in sheet.rows(after=header_row)
            )
            return parse_flat_rows(header, rows, "xlsx", problems)
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
    # An exception's text may quote the file (a cell, a part name): shown short and escaped.
    first_line = quote(str(err).splitlines()[0]) if str(err) else "''"
    return RejectedFile("corrupt_workbook", f"is not a readable .xlsx workbook ({type(err).__name__}: {first_line})")


def read_xlsx_submission(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> ParsedSubmission:
    check_office_container(data, limits).close()
    try:
        workbook = _Workbook(data, limits)
    except RejectedFile:
        raise
    except Exception as err:  # openpyxl raises many kinds on a broken workbook; each means "unreadable"
        raise _unreadable(err) from None
    try:
        if META_SHEET in workbook.sheetnames:
            return _read_questionnaire(workbook, limits)
        return _read_flat_sheet(workbook, limits)
    except RejectedFile:
        raise
    except Exception as err:  # sheets are parsed lazily, so a broken one shows up only here
        raise _unreadable(err) from None
    finally:
        workbook.close()
