"""A tier's published tables in the readers' formats: JSON and SDMX-CSV (Excel is excel.py's), and reading each back.

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

from pmm_pipeline.stages.disclosure.facts import LEVEL_COUNTS
from pmm_pipeline.stages.publishing.cells import neutralize_spreadsheet_text, undo_neutralization
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


def _is_null(value: object) -> bool:
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
            frame[column] = frame[column].map(lambda v: None if _is_null(v) else str(v)).astype(object)
    if "flags" in frame.columns:  # empty text and an empty cell are the same "no flags"
        frame["flags"] = frame["flags"].fillna("")
    return frame


def json_ready(value: object) -> object:
    """A cell as plain JSON, comparable across readers: NULL and NaN are None, numpy scalars Python values."""
    if _is_null(value):
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


# --- SDMX-CSV 2.0 -----------------------------------------------------------------------------
SDMX_AGENCY = "WCO"
SDMX_VERSION = "1.0"
STATISTICS = ("mean", "median", "min", "max", "pooled")
# SDMX cross-domain code lists CL_OBS_STATUS and CL_CONF_STATUS.
OBS_STATUS = {"reported": "A", "not_applicable": "M", "missing": "O", "undefined": "M"}
CONF_BY_DISCLOSURE = {"public": "F", "wco": "N", "secretariat": "C"}
CONF_BY_REASON = {
    "min_group_size": "A",
    "hidden_member": "C",
    "differencing": "S",
    "complementary": "S",
    # not confidential: the statistic exists but is beyond the range of a double
    "not_finite": "F",
    "earlier_release": "S",
}


def sdmx_name(table: str) -> str:
    return f"{table}.sdmx.csv"


def _sdmx_schema(table: str):
    from pysdmx.model import Component, Components, Concept, DataType, Role, Schema

    def comp(cid: str, role, dtype=DataType.STRING, level: str | None = None):
        return Component(
            id=cid,
            required=role == Role.DIMENSION,
            role=role,
            concept=Concept(id=cid, dtype=dtype),
            attachment_level=level,
        )

    dims = (
        ["KPI", "SERIES", "REF_AREA", "TIME_PERIOD"]
        if table == "kpi_values"
        else ["KPI", "SERIES", "GROUP_TYPE", "REF_AREA", "STATISTIC", "TIME_PERIOD"]
    )
    attributes = ["OBS_STATUS", "CONF_STATUS", "PMM_CYCLE"] + (
        ["PMM_STATUS", "PMM_DISCLOSURE", "PMM_FLAGS"]
        if table == "kpi_values"
        else ["N_REPORTING", "N_PARTICIPATING", "PMM_SUPPRESSED", "PMM_SUPPRESSION_REASON"]
    )
    components = [comp(d, Role.DIMENSION) for d in dims]
    components.append(comp("OBS_VALUE", Role.MEASURE, DataType.DOUBLE))
    components += [comp(a, Role.ATTRIBUTE, level="O") for a in attributes]
    return Schema(
        context="dataflow",
        agency=SDMX_AGENCY,
        id=f"PMM_{table.upper()}",
        components=Components(components),
        version=SDMX_VERSION,
        generated=FIXED_CREATED,
    )


def _number_text(value: object) -> str:
    return "" if _is_null(value) else repr(float(value))


def _int_text(value: object) -> str:
    return "" if _is_null(value) else str(int(value))


def sdmx_observations(frame: pd.DataFrame, table: str, reporting_year: int) -> pd.DataFrame:
    """The table as SDMX observations: one per KPI value, or one per statistic of a group row."""
    rows = []
    for r in frame.to_dict("records"):
        if table == "kpi_values":
            rows.append(
                {
                    "KPI": r["kpi_id"],
                    "SERIES": r["series"],
                    "REF_AREA": r["member_code"],
                    "TIME_PERIOD": str(r["reporting_year"]),
                    "OBS_VALUE": _number_text(r["value"]),
                    "OBS_STATUS": OBS_STATUS.get(r["status"], "O"),
                    "CONF_STATUS": CONF_BY_DISCLOSURE[r["disclosure"]],
                    "PMM_CYCLE": r["cycle"],
                    "PMM_STATUS": r["status"],
                    "PMM_DISCLOSURE": r["disclosure"],
                    "PMM_FLAGS": r["flags"] or "",
                }
            )
            continue
        reasons = (
            dict(entry.split(":", 1) for entry in (r["suppression_reason"] or "").split(";") if ":" in entry)
            if not _is_null(r["suppression_reason"])
            else {}
        )
        for statistic in STATISTICS:
            # A categorical row's share at its level is its `mean`, withheld with the count as `level_counts`.
            withheld = reasons.get(statistic) or (reasons.get(LEVEL_COUNTS) if statistic == "mean" else None)
            value = r[statistic]
            rows.append(
                {
                    "KPI": r["kpi_id"],
                    "SERIES": r["series"],
                    "GROUP_TYPE": r["group_type"],
                    "REF_AREA": r["group_code"],
                    "STATISTIC": statistic.upper(),
                    "TIME_PERIOD": str(reporting_year),
                    "OBS_VALUE": _number_text(value),
                    # A withheld figure exists but is confidential; an absent one cannot exist (e.g. pooled of a level).
                    "OBS_STATUS": "A" if withheld or not _is_null(value) else "M",
                    "CONF_STATUS": CONF_BY_REASON.get(withheld, "C") if withheld else "F",
                    "PMM_CYCLE": r["cycle"],
                    "N_REPORTING": _int_text(r["n_reporting"]),
                    "N_PARTICIPATING": _int_text(r["n_participating"]),
                    "PMM_SUPPRESSED": "true" if r["suppressed"] else "false",
                    "PMM_SUPPRESSION_REASON": "" if _is_null(r["suppression_reason"]) else r["suppression_reason"],
                }
            )
    columns = [c.id for c in _sdmx_schema(table).components]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def write_sdmx_csv(frame: pd.DataFrame, path: Path, table: str, reporting_year: int) -> None:
    """SDMX-CSV 2.0 written by pysdmx, against the dataflow's schema (dimensions, measure, attributes)."""
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    # Text that a spreadsheet would execute is neutralized as in every CSV output (numbers are left alone).
    observations = sdmx_observations(frame, table, reporting_year)
    text_columns = [c for c in observations.columns if c != "OBS_VALUE"]
    observations[text_columns] = observations[text_columns].map(neutralize_spreadsheet_text)
    # pysdmx writes with pandas' defaults, which leave a field holding a carriage return unquoted: refuse
    # such text (no code of the contract has one) rather than write a file that cannot be read back.
    broken = [c for c in text_columns if observations[c].map(lambda v: isinstance(v, str) and "\r" in v).any()]
    if broken:
        raise ValueError(f"{path}: text with a carriage return in {broken} cannot be written as SDMX-CSV")
    text = write([PandasDataset(structure=_sdmx_schema(table), data=observations)])
    path.write_text(text.replace("\r\n", "\n").rstrip("\n") + "\n", encoding="utf-8")


def _sdmx_header(table: str) -> str:
    return ",".join(["STRUCTURE", "STRUCTURE_ID", "ACTION", *(c.id for c in _sdmx_schema(table).components)])


def read_sdmx_csv(path: Path) -> tuple[str, pd.DataFrame]:
    """An SDMX-CSV file parsed by pysdmx, turned back into the contract's table."""
    from pysdmx.io.csv.sdmx20.reader import read

    text = path.read_text(encoding="utf-8")
    table = path.name.split(".", 1)[0]
    if table in TABLE_COLUMNS and text.strip() == _sdmx_header(table):
        # pysdmx writes an empty table as its header alone, which no SDMX reader accepts back.
        return table, typed_table(pd.DataFrame(columns=TABLE_COLUMNS[table]))
    datasets = read(text)
    if len(datasets) != 1:
        raise ValueError(f"{len(datasets)} datasets in one file")
    dataset = datasets[0]
    table = next((t for t in TABLE_COLUMNS if dataset.short_urn.endswith(f":PMM_{t.upper()}({SDMX_VERSION})")), None)
    if table is None:
        raise ValueError(f"unknown dataflow {dataset.short_urn}")
    obs = dataset.data.astype(object).where(dataset.data.notna(), None)
    obs = obs.map(lambda v: None if v in ("", None) else v)
    text_columns = [c for c in obs.columns if c != "OBS_VALUE"]
    obs[text_columns] = obs[text_columns].map(undo_neutralization)
    if table == "kpi_values":
        frame = pd.DataFrame(
            {
                "cycle": obs["PMM_CYCLE"],
                "reporting_year": obs["TIME_PERIOD"],
                "member_code": obs["REF_AREA"],
                "kpi_id": obs["KPI"],
                "series": obs["SERIES"],
                "value": obs["OBS_VALUE"],
                "status": obs["PMM_STATUS"],
                "disclosure": obs["PMM_DISCLOSURE"],
                "flags": obs["PMM_FLAGS"],
            }
        )
        return table, typed_table(frame)
    keys = [
        "PMM_CYCLE",
        "KPI",
        "SERIES",
        "GROUP_TYPE",
        "REF_AREA",
        "N_REPORTING",
        "N_PARTICIPATING",
        "PMM_SUPPRESSED",
        "PMM_SUPPRESSION_REASON",
    ]
    rows = []
    for key, group in obs.groupby(keys[:5], sort=False, dropna=False):
        first = group.iloc[0]
        stats = dict(zip(group["STATISTIC"].str.lower(), group["OBS_VALUE"], strict=True))
        rows.append(
            {
                "cycle": key[0],
                "kpi_id": key[1],
                "series": key[2],
                "group_type": key[3],
                "group_code": key[4],
                "n_reporting": first["N_REPORTING"],
                "n_participating": first["N_PARTICIPATING"],
                **{s: stats.get(s) for s in STATISTICS},
                "suppressed": str(first["PMM_SUPPRESSED"]).lower() == "true",
                "suppression_reason": first["PMM_SUPPRESSION_REASON"],
            }
        )
    return table, typed_table(pd.DataFrame(rows, columns=TABLE_COLUMNS[table]))
