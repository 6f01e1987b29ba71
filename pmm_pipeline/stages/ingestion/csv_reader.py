"""Reading a flat CSV export (see flat.py) whatever its encoding and delimiter, with the line of every answer.

Text is UTF-8 (with or without a byte-order mark), UTF-16 (with a byte-order mark, or without one
when every other byte is zero) or Windows-1252, the encoding spreadsheet programs use on Windows
in Western Europe and Latin America. The delimiter is `,`, `;`, tab or `|`, whichever makes the
header row name the required columns.
"""

import csv
import io

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.stages.ingestion.flat import REQUIRED_COLUMNS, FlatRow, flat_columns, parse_flat_rows
from pmm_pipeline.stages.ingestion.submission import Location, ParsedSubmission, ProblemList, RejectedFile
from pmm_pipeline.stages.ingestion.text import quote

DELIMITERS = (",", ";", "\t", "|")
BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode_text(data: bytes) -> str:
    """The text of a CSV file; raises RejectedFile for bytes that are no text in a supported encoding."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as err:
                raise RejectedFile("bad_encoding", f"starts as {encoding} text but byte {err.start} is not") from None
    sample = data[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):  # ASCII as UTF-16: every other byte zero
        encoding = "utf-16-le" if sample[1] == 0 else "utf-16-be"
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise RejectedFile("bad_encoding", "looks like UTF-16 text but cannot be decoded as such") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as err:
            raise RejectedFile(
                "bad_encoding", f"is neither UTF-8 nor Windows-1252 text (byte {err.start}); export it as UTF-8 CSV"
            ) from None
    if "\x00" in text:
        raise RejectedFile("bad_encoding", "holds binary data (NUL bytes), not CSV text")
    return text


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def sniff_delimiter(text: str) -> str:
    """The delimiter that makes the header name the most required columns (`,` on a tie)."""
    header = _first_line(text)

    def score(delimiter: str) -> tuple[int, int]:
        try:
            cells = next(csv.reader([header], delimiter=delimiter), [])
        except csv.Error:
            return (0, 0)
        return (len(set(flat_columns(cells)) & set(REQUIRED_COLUMNS)), len(cells))

    return max(DELIMITERS, key=lambda d: (score(d), -DELIMITERS.index(d)))


def read_csv_submission(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> ParsedSubmission:
    text = decode_text(data).removeprefix("\ufeff")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[FlatRow] = []
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1  # a quoted field may span lines: report the first
            if len(record) > limits.max_columns:
                raise RejectedFile(
                    "too_many_columns",
                    f"line {start} has {len(record)} columns, over the limit of {limits.max_columns}",
                )
            if header is None:
                if any(cell.strip() for cell in record):
                    header = record
                continue
            if len(rows) >= limits.max_rows:
                raise RejectedFile("too_many_rows", f"the file has more than {limits.max_rows} rows")
            rows.append(FlatRow(record, lambda _column, start=start: Location(line=start)))
    except csv.Error as err:
        raise RejectedFile("bad_structure", f"is not well-formed CSV near line {line}: {quote(str(err))}") from None
    if header is None:
        raise RejectedFile("missing_column", "has no header row")
    return parse_flat_rows(header, rows, "csv", ProblemList(limits.max_problems))
