"""An answer's value as written in the archived file, read back at the place intake recorded for it.

The warehouse keeps a number as a double; an auditor compares with the file. This reads the archived copy
(the very bytes received: its SHA-256 is checked first) and returns the text at the answer's place: the
JSON token (`1e-6`, `0.10`), the CSV cell (`1 198 295 777`, `0,1`), or the Excel cell (a number cell as
its exact decimal, a text cell as typed). Anything that cannot be read back gives None, never an error:
the trace then shows the stored number alone.
"""

import csv
import io
import json
import math
from decimal import Decimal
from pathlib import Path

from pmm_pipeline.stages.ingestion.archive import hash_file
from pmm_pipeline.stages.ingestion.csv_reader import decode_text, sniff_delimiter
from pmm_pipeline.stages.ingestion.flat import flat_columns

MAX_TRACED_BYTES = 64 << 20  # far above PMM_MAX_FILE_BYTES: an archived whole copy is never larger


def exact_decimal(value: float | None) -> str | None:
    """The double in plain decimal notation with every digit of its shortest exact form: 305028581, 0.1, 0.0000001.

    repr() gives the shortest text that reads back as the same double; Decimal spells it out without an
    exponent, so nothing is rounded and nothing reads as 3.05e+08.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None if value is None else "nan"
    value = float(value)
    if not math.isfinite(value):
        return repr(value)
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class _NumberText(str):
    """A JSON number token, kept as the text it was written as."""


def archive_intact(path: Path, sha256: str) -> bool:
    try:
        return hash_file(path)[0] == sha256  # never opens a pipe or device put where the copy should be
    except OSError:
        return False


class ArchivedFile:
    """One archived submission file, parsed once for all the answers of a trace."""

    def __init__(self, path: Path, file_format: str | None, sha256: str | None = None):
        self.path, self.format, self.sha256 = path, file_format, sha256
        self._parsed: object = None
        self._failed = False

    def _load(self):
        if self._parsed is None and not self._failed:
            try:
                found, _, data = hash_file(self.path, keep_up_to=MAX_TRACED_BYTES)
                if data is None or (self.sha256 is not None and found != self.sha256):
                    raise ValueError("the archived copy changed since it was checked")  # never show other bytes
                if self.format == "json":
                    self._parsed = json.loads(data, parse_int=_NumberText, parse_float=_NumberText)
                elif self.format == "csv":
                    self._parsed = _csv_lines(data)
                elif self.format == "xlsx":
                    import openpyxl  # only when an Excel answer is traced

                    self._parsed = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
                else:
                    self._failed = True
            except Exception:  # an archived copy that no longer parses: the trace shows the stored number alone
                self._failed = True
        return None if self._failed else self._parsed

    def text_at(self, pointer: str | None, sheet: str | None, cell: str | None, line: int | None) -> str | None:
        parsed = self._load()
        try:
            if self.format == "json" and pointer:
                node = parsed
                for part in pointer.strip("/").split("/"):
                    part = part.replace("~1", "/").replace("~0", "~")
                    node = node[int(part)] if isinstance(node, list) else node[part]
                value = node.get("value") if isinstance(node, dict) else None
                if value is None:
                    return None
                return str(value) if isinstance(value, _NumberText) else json.dumps(value, ensure_ascii=False)
            if self.format == "csv" and line is not None:
                return parsed.get(int(line))
            if self.format == "xlsx" and sheet and cell:
                value = parsed[sheet][cell].value
                if value is None:
                    return None
                if isinstance(value, bool):
                    return str(value)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    return exact_decimal(float(value)) if isinstance(value, float) else str(value)
                return str(value)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            return None
        return None


def _csv_lines(data: bytes) -> dict[int, str]:
    """The value cell of each CSV record by the line it starts on, as the intake numbers lines."""
    text = decode_text(data).removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    values: dict[int, str] = {}
    column = None
    line = 1
    for record in reader:
        start, line = line, reader.line_num + 1
        if column is None:
            if any(cell.strip() for cell in record):
                column = flat_columns(record).get("value")
                if column is None:
                    return {}
            continue
        if column < len(record):
            values[start] = record[column]
    return values
