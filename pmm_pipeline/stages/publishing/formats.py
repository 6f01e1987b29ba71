"""A tier's published tables in the readers' formats: JSON (Excel is excel.py's, SDMX sdmx.py's), and reading each back.

Every writer takes the tier's own tables (publish_<tier>.kpi_values and rollups, already audited),
never internal ones, and every format has a reader giving back the contract's frames, so the release
guard audits what readers actually get. Values stay unrounded numbers in every format: Excel number
formats round the display only. Nothing time-dependent is written, so a re-run gives the same bytes.
"""

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

TABLE_COLUMNS = {"kpi_values": PUBLISHED_KPI_COLUMNS, "rollups": PUBLISHED_ROLLUP_COLUMNS}
INTEGER_COLUMNS = {"reporting_year", "n_reporting", "n_participating"}
NUMBER_COLUMNS = {"value", "mean", "median", "min", "max", "pooled"}
BOOLEAN_COLUMNS = {"suppressed"}


@dataclass(frozen=True)
class KpiLabels:
    """What the readers' formats say about a KPI beside its id: its name per language and its unit."""

    names: Mapping[str, str]  # language -> name
    unit: str


@dataclass(frozen=True)
class ReaderNames:
    """Names the workbooks write beside the codes, in each language: members, groups, withholding reasons."""

    members: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # member -> language -> name
    groups: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)  # (type, code) -> lang -> name
    reasons: Callable[[str, str], str] | None = None  # (suppression_reason, language) -> the reasons in words


# Value statuses in words in the three questionnaire languages: the workbooks, the reports and the profiles say them.
STATUS_LABELS = {
    "en": {
        "reported": "reported",
        "not_applicable": "not applicable (the member declined the KPI)",
        "missing": "missing (not answered or not available)",
        "undefined": "undefined (zero denominator)",
    },
    "fr": {
        "reported": "déclaré",
        "not_applicable": "sans objet (le membre a décliné l'ICP)",
        "missing": "manquant (sans réponse ou non disponible)",
        "undefined": "indéfini (dénominateur nul)",
    },
    "es": {
        "reported": "declarado",
        "not_applicable": "no aplicable (el miembro declinó el ICD)",
        "missing": "faltante (sin respuesta o no disponible)",
        "undefined": "indefinido (denominador cero)",
    },
}
# xlsxwriter stamps docProps/core.xml with the creation time unless told; a fixed date keeps bytes stable.
FIXED_CREATED = dt.datetime(2000, 1, 1)


def is_null(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _exact_number(value: object) -> object:
    """Number text as the double it spells (pandas' own text-to-number parsing can be off in the last bit)."""
    if isinstance(value, str):
        return None if not value.strip() else float(value)
    return value


def typed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract dtypes: numbers as float64 (NULL as NaN), whole numbers as Int64, flags and text as text."""
    frame = frame.copy()
    for column in frame.columns:
        if column in NUMBER_COLUMNS:
            numbers = frame[column]
            if numbers.dtype.kind not in "fi":  # text among the cells: each parsed to the double it spells
                numbers = numbers.map(_exact_number)
            frame[column] = pd.to_numeric(numbers, errors="raise").astype("float64")
        elif column in INTEGER_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="raise").astype("Int64")
        elif column in BOOLEAN_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        elif pd.api.types.infer_dtype(frame[column], skipna=True) in ("string", "empty"):
            # Text and empty cells only (the readers' usual case): the empty ones become None, at C speed.
            frame[column] = pd.Series(
                frame[column].to_numpy(dtype=object, na_value=None), index=frame.index, dtype=object
            )
        else:
            frame[column] = frame[column].map(lambda v: None if is_null(v) else str(v)).astype(object)
    if "flags" in frame.columns:  # empty text and an empty cell are the same "no flags"
        frame["flags"] = frame["flags"].fillna("")
    return frame


def json_ready(value: object) -> object:
    """A cell as plain JSON, comparable across readers: NULL and NaN are None, numpy scalars Python values."""
    if is_null(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def write_json(frame: pd.DataFrame, path: Path, table: str) -> None:
    """`{"table": ..., "columns": [...], "rows": [{...}, ...]}`; NULL is null, doubles keep every digit."""
    rows = [{c: json_ready(v) for c, v in record.items()} for record in frame[TABLE_COLUMNS[table]].to_dict("records")]
    document = {
        "format": "pmm-release-table",
        "format_version": 1,
        "table": table,
        "columns": TABLE_COLUMNS[table],
        "rows": rows,
    }
    path.write_text(json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1) + "\n", encoding="utf-8")


def read_json(path: Path) -> tuple[str, pd.DataFrame]:
    document = json.loads(path.read_text(encoding="utf-8"))
    table = document["table"]
    if document.get("format") != "pmm-release-table" or table not in TABLE_COLUMNS:
        raise ValueError("not a pmm-release-table JSON document")
    if document["columns"] != TABLE_COLUMNS[table]:
        raise ValueError(f"columns {document['columns']} are not the contract's")
    frame = pd.DataFrame(document["rows"], columns=TABLE_COLUMNS[table])
    return table, typed_table(frame)
