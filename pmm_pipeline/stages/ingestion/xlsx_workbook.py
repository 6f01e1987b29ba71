"""A received workbook's sheets as grids of cells, read within the intake's limits, and the checks every cell needs.

openpyxl reads it in read-only (streaming) mode, with defusedxml refusing entities. Cells are read as written
(formulas as formulas); from a sheet's first formula on, the same sheet is also streamed for the values Excel
cached, row by row in step, so that each formula cell gets its saved value in the same pass. A formula whose
value was never computed (a file written by a program and never opened in Excel) cannot be trusted, so it is
reported rather than guessed; past PMM_MAX_PROBLEMS of them, or past PMM_MAX_CELLS non-empty cells, reading
stops and the file is rejected: a small workbook of hundreds of thousands of formulas costs the cells read up
to that point, not the whole sheet.
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

from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.stages.ingestion.flat import clean
from pmm_pipeline.stages.ingestion.numbers import PercentOfOne
from pmm_pipeline.stages.ingestion.submission import Location, Problem, ProblemList, RejectedFile
from pmm_pipeline.stages.ingestion.text import quote
from pmm_pipeline.stages.questionnaire.layout import header_aliases

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


class Workbook:
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


def read_grid(book: Workbook, title: str) -> Grid:
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
                            cell_location(title, row_index, column_index),
                        )
            grid[(row_index, column_index)] = Cell(value, is_formula, cell.number_format or "General")
    return grid


def cell_location(sheet: str, row: int, column: int) -> Location:
    return Location(sheet=sheet, cell=f"{get_column_letter(column)}{row}")


def find_header(grid: Grid, required: tuple[str, ...], keys: tuple[str, ...]) -> tuple[int, dict[str, int]] | None:
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


class SheetReader:
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
                    cell_location(self.title, row, column),
                )
            )
            return None
        value = cell.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _is_percent_format(cell.number_format):
            return PercentOfOne(float(value))
        return clean(value)
