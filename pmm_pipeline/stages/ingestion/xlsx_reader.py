"""Which reader an .xlsx submission goes to: a filled Excel questionnaire (`pmm template`; xlsx_questionnaire.py)
or a flat export saved as .xlsx (read here), each answer with its cell.

The container is checked first (limits.py); the workbook is then read within the limits
(xlsx_workbook.py): as a questionnaire (xlsx_questionnaire.py) when it has the questionnaire's hidden
metadata sheet, else as its first sheet whose header row is the flat export's.
"""

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.stages.ingestion.flat import FlatRow, is_flat_header, parse_flat_rows
from pmm_pipeline.stages.ingestion.limits import check_office_container
from pmm_pipeline.stages.ingestion.submission import ParsedSubmission, ProblemList, RejectedFile
from pmm_pipeline.stages.ingestion.text import quote
from pmm_pipeline.stages.ingestion.xlsx_questionnaire import read_questionnaire
from pmm_pipeline.stages.ingestion.xlsx_workbook import (
    HEADER_SEARCH_ROWS,
    SheetReader,
    Workbook,
    cell_location,
    read_grid,
)
from pmm_pipeline.stages.questionnaire.layout import META_SHEET


def _read_flat_sheet(workbook: Workbook, limits: IntakeLimits) -> ParsedSubmission:
    """A workbook without questionnaire metadata: its first sheet whose header row is the flat export's."""
    for title in workbook.sheetnames:
        grid = read_grid(workbook, title)
        for header_row in range(1, HEADER_SEARCH_ROWS + 1):
            width = max((c for r, c in grid if r == header_row), default=0)
            header = [grid[(header_row, c)].value if (header_row, c) in grid else None for c in range(1, width + 1)]
            if not is_flat_header(header):
                continue
            problems = ProblemList(limits.max_problems)
            sheet = SheetReader(title, grid, problems)
            rows = (  # lazily, so that reading stops with parse_flat_rows once the problems overflow
                FlatRow(
                    [sheet.value(row, c) for c in range(1, width + 1)],
                    lambda column, row=row, title=title: cell_location(title, row, column + 1),
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
        workbook = Workbook(data, limits)
    except RejectedFile:
        raise
    except Exception as err:  # openpyxl raises many kinds on a broken workbook; each means "unreadable"
        raise _unreadable(err) from None
    try:
        if META_SHEET in workbook.sheetnames:
            return read_questionnaire(workbook, limits)
        return _read_flat_sheet(workbook, limits)
    except RejectedFile:
        raise
    except Exception as err:  # sheets are parsed lazily, so a broken one shows up only here
        raise _unreadable(err) from None
    finally:
        workbook.close()
