"""The flat export format (one row per answer or disclosure choice), as a CSV file or an Excel sheet.

Columns, in any order, case-insensitive, extra columns ignored:
`member, cycle, submitted_at, item, year, value` (required) and `status, comment, kpi, disclosure`.
A row with an `item` is an answer; a row with a `kpi` (and no item) is a disclosure choice.
`member`, `cycle` and `submitted_at` must be the same on every row that fills them: one file is
one member's submission. Blank rows are skipped.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.core.vocabulary import ANSWER_STATUSES, TIERS
from pmm_pipeline.stages.ingestion.submission import (
    Location,
    ParsedSubmission,
    Problem,
    ProblemList,
    RawAnswer,
    RejectedFile,
)
from pmm_pipeline.stages.ingestion.text import quote
from pmm_pipeline.stages.questionnaire.layout import read_choice

REQUIRED_COLUMNS = ("member", "cycle", "submitted_at", "item", "year", "value")
OPTIONAL_COLUMNS = ("status", "comment", "kpi", "disclosure")
SUBMISSION_FIELDS = ("member", "cycle", "submitted_at")


@dataclass(frozen=True)
class FlatRow:
    """The cells of one row and where each of them is (by column index) in the file."""

    values: Sequence[Any]
    location_of: Callable[[int], Location]


def normalize_header(cell: Any) -> str:
    return str(cell).replace("\ufeff", "").strip().strip('"').strip().casefold() if cell is not None else ""


def flat_columns(header: Sequence[Any]) -> dict[str, int]:
    """Column index of each known column in a header row (the first occurrence wins)."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = normalize_header(cell)
        if name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            columns.setdefault(name, index)
    return columns


def is_flat_header(header: Sequence[Any]) -> bool:
    return set(REQUIRED_COLUMNS) <= set(flat_columns(header))


def clean(value: Any) -> Any:
    """Text trimmed (a blank cell is None); other values as they are."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def as_year(value: Any) -> Any:
    """A whole number (2022, 2022.0, '2022 ') as int; anything else as it is, for validation to report."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def timestamp_text(value: Any) -> Any:
    """A date or date-time cell as ISO 8601 text (a time without zone is read as UTC); text as it is."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC).isoformat()
    return value


def parse_flat_rows(
    header: Sequence[Any], rows: Iterable[FlatRow], file_format: str, problems: ProblemList
) -> ParsedSubmission:
    """Read flat rows into a ParsedSubmission; raises RejectedFile when required columns are missing.

    Problems go to `problems`; reading stops once it overflows (the file is rejected anyway).
    """
    columns = flat_columns(header)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        # The header row is the first line of whatever file this is: shown short and escaped.
        found = ", ".join(normalize_header(c) for c in header if normalize_header(c))
        raise RejectedFile(
            "missing_column",
            f"column(s) {', '.join(missing)} are missing; the header row has: {quote(found) if found else '(nothing)'}",
        )
    fields: dict[str, Any] = {}
    field_locations: dict[str, Location] = {}
    answers: list[RawAnswer] = []
    disclosure: dict[str, Any] = {}
    disclosure_locations: dict[str, Location] = {}

    for row in rows:
        if problems.overflowed:
            break

        def cell(name: str, row: FlatRow = row) -> Any:
            index = columns.get(name)
            return clean(row.values[index]) if index is not None and index < len(row.values) else None

        if all(clean(v) is None for v in row.values):
            continue
        for name in SUBMISSION_FIELDS:
            value = cell(name)
            if value is None:
                continue
            if name not in fields:
                fields[name] = value
                field_locations[name] = row.location_of(columns[name])
            elif value != fields[name]:
                problems.append(
                    Problem(
                        "inconsistent_rows",
                        f"{name} is {quote(value)} here but {quote(fields[name])} on an earlier row; send one"
                        " member's submission per file",
                        row.location_of(columns[name]),
                    )
                )
        item, kpi = cell("item"), cell("kpi")
        if item is not None and kpi is not None:
            problems.append(
                Problem("bad_structure", "a row holds both an item and a kpi", row.location_of(columns["item"]))
            )
        elif item is not None:
            value = cell("value")
            answers.append(
                RawAnswer(
                    item=item,
                    year=as_year(cell("year")),
                    value=value,
                    status=read_choice(cell("status"), ANSWER_STATUSES),
                    comment=None if cell("comment") is None else str(cell("comment")),
                    location=row.location_of(columns["value"]),
                    has_value=value is not None,
                )
            )
        elif kpi is not None:
            where = row.location_of(columns.get("disclosure", columns["kpi"]))
            if kpi in disclosure:
                problems.append(Problem("bad_disclosure", f"disclosure of {quote(kpi)} is given twice", where))
            elif cell("disclosure") is not None:
                disclosure[kpi] = read_choice(cell("disclosure"), TIERS)
                disclosure_locations[kpi] = where
        else:
            problems.append(Problem("bad_structure", "a row without an item or a kpi", row.location_of(0)))

    return ParsedSubmission(
        format=file_format,
        member=fields.get("member"),
        cycle=None if fields.get("cycle") is None else str(as_year(fields["cycle"])),
        submitted_at=timestamp_text(fields.get("submitted_at")),
        answers=answers,
        disclosure=disclosure,
        problems=problems,
        numbers_as_text=True,
        disclosure_locations=disclosure_locations,
        field_locations=field_locations,
    )
