"""A tier's tables as SDMX-CSV 2.0: the dataflows' components, the observations, written directly, read by pysdmx.

The file is written here with the csv module, byte for byte what pysdmx's own SDMX-CSV 2.0 writer
gives for the same observations (a test compares the two), at a fraction of its cost; it is read back
by pysdmx for the release audit, so the audit checks what an SDMX tool reads. The dataflows' codes and
names are in the tier's structure message (sdmx_structure.py); the components, and the code list
each takes its values from, are declared once below.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pmm_pipeline.stages.disclosure.facts import LEVEL_COUNTS
from pmm_pipeline.stages.publishing.cells import neutralize_spreadsheet_text, undo_neutralization
from pmm_pipeline.stages.publishing.formats import TABLE_COLUMNS, is_null, typed_table

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
# An SDMX-CSV 2.0 row starts with what it is a row of: the dataflow, and the action (I: information).
STRUCTURE_TYPE = "dataflow"
ACTION = "I"
# pysdmx writes an empty value of a dimension (which every observation must have) as SDMX's "#N/A".
MISSING_DIMENSION = "#N/A"
# The Schema's preparation time, which no file carries: fixed, so nothing depends on the clock.
SCHEMA_GENERATED = dt.datetime(2000, 1, 1)


def _per_value(column: pd.Series, function) -> pd.Series:
    """`column.map(function)`, calling `function` once per distinct value (codes repeat on every row)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    results = np.empty(len(uniques), dtype=object)
    results[:] = [function(value) for value in uniques]
    return pd.Series(results[codes], index=column.index, dtype=object)


@dataclass(frozen=True)
class SdmxComponent:
    """A column of a dataflow: its role and, when its values are codes, the id of its code list (structure.xml)."""

    id: str
    role: str  # "dimension", "measure" or "attribute"
    codelist: str | None = None

    @property
    def required(self) -> bool:
        return self.role == "dimension"


def _dimension(cid: str, codelist: str | None) -> SdmxComponent:
    return SdmxComponent(cid, "dimension", codelist)


def _attribute(cid: str, codelist: str | None = None) -> SdmxComponent:
    return SdmxComponent(cid, "attribute", codelist)


_MEASURE = SdmxComponent("OBS_VALUE", "measure")
_STATUS_ATTRIBUTES = (
    _attribute("OBS_STATUS", "CL_OBS_STATUS"),
    _attribute("CONF_STATUS", "CL_CONF_STATUS"),
    _attribute("PMM_CYCLE", "CL_PMM_CYCLE"),
)
# The components of each table's dataflow, in the order of the file's columns (TIME_PERIOD: the reporting year).
COMPONENTS: dict[str, tuple[SdmxComponent, ...]] = {
    "kpi_values": (
        _dimension("KPI", "CL_PMM_KPI"),
        _dimension("SERIES", "CL_PMM_SERIES"),
        _dimension("REF_AREA", "CL_PMM_MEMBER"),
        _dimension("TIME_PERIOD", None),
        _MEASURE,
        *_STATUS_ATTRIBUTES,
        _attribute("PMM_STATUS", "CL_PMM_STATUS"),
        _attribute("PMM_DISCLOSURE", "CL_PMM_DISCLOSURE"),
        _attribute("PMM_FLAGS"),  # the ids of the quality warnings, `;`-separated
    ),
    "rollups": (
        _dimension("KPI", "CL_PMM_KPI"),
        _dimension("SERIES", "CL_PMM_SERIES"),
        _dimension("GROUP_TYPE", "CL_PMM_GROUP_TYPE"),
        _dimension("REF_AREA", "CL_PMM_GROUP"),
        _dimension("STATISTIC", "CL_PMM_STATISTIC"),
        _dimension("TIME_PERIOD", None),
        _MEASURE,
        *_STATUS_ATTRIBUTES,
        _attribute("N_REPORTING"),
        _attribute("N_PARTICIPATING"),
        _attribute("PMM_SUPPRESSED"),
        _attribute("PMM_SUPPRESSION_REASON"),  # statistic:reason;... (reasons: CL_PMM_WITHHOLDING_REASON)
    ),
}


def dataflow_id(table: str) -> str:
    return f"PMM_{table.upper()}"


def sdmx_name(table: str) -> str:
    return f"{table}.sdmx.csv"


def sdmx_schema(table: str):
    """The dataflow of `table` as the pysdmx Schema its data are written and read with (ids, roles, types)."""
    from pysdmx.model import Component, Components, Concept, DataType, Role, Schema

    roles = {"dimension": Role.DIMENSION, "measure": Role.MEASURE, "attribute": Role.ATTRIBUTE}
    components = [
        Component(
            id=c.id,
            required=c.required,
            role=roles[c.role],
            concept=Concept(id=c.id, dtype=DataType.DOUBLE if c.role == "measure" else DataType.STRING),
            attachment_level="O" if c.role == "attribute" else None,
        )
        for c in COMPONENTS[table]
    ]
    return Schema(
        context="dataflow",
        agency=SDMX_AGENCY,
        id=dataflow_id(table),
        components=Components(components),
        version=SDMX_VERSION,
        generated=SCHEMA_GENERATED,
    )


def _number_text(value: object) -> str:
    return "" if is_null(value) else repr(float(value))


def _int_text(value: object) -> str:
    return "" if is_null(value) else str(int(value))


def withheld_reasons(suppression_reason: object) -> dict[str, str]:
    """`mean:differencing;min:hidden_member` as {statistic: reason}."""
    if is_null(suppression_reason):
        return {}
    return dict(entry.split(":", 1) for entry in str(suppression_reason).split(";") if ":" in entry)


def sdmx_observations(frame: pd.DataFrame, table: str, reporting_year: int) -> pd.DataFrame:
    """The table as SDMX observations: one per KPI value, or one per statistic of a group row (in that order)."""
    columns = [c.id for c in COMPONENTS[table]]
    frame = frame.reset_index(drop=True).astype(object)
    if table == "kpi_values":
        observations = {
            "KPI": frame["kpi_id"],
            "SERIES": frame["series"],
            "REF_AREA": frame["member_code"],
            "TIME_PERIOD": frame["reporting_year"].map(str),
            "OBS_VALUE": frame["value"].map(_number_text),
            "OBS_STATUS": frame["status"].map(lambda s: OBS_STATUS.get(s, "O")),
            "CONF_STATUS": frame["disclosure"].map(lambda d: CONF_BY_DISCLOSURE[d]),
            "PMM_CYCLE": frame["cycle"],
            "PMM_STATUS": frame["status"],
            "PMM_DISCLOSURE": frame["disclosure"],
            "PMM_FLAGS": frame["flags"].map(lambda f: f or ""),
        }
        return pd.DataFrame(observations, columns=columns, dtype=object)
    reasons = frame["suppression_reason"].map(withheld_reasons)
    per_statistic = []
    for statistic in STATISTICS:
        # A categorical row's share at its level is its `mean`, withheld with the count as `level_counts`.
        withheld = reasons.map(
            lambda found, s=statistic: found.get(s) or (found.get(LEVEL_COUNTS) if s == "mean" else None)
        )
        value = frame[statistic]
        per_statistic.append(
            pd.DataFrame(
                {
                    "KPI": frame["kpi_id"],
                    "SERIES": frame["series"],
                    "GROUP_TYPE": frame["group_type"],
                    "REF_AREA": frame["group_code"],
                    "STATISTIC": statistic.upper(),
                    "TIME_PERIOD": str(reporting_year),
                    "OBS_VALUE": value.map(_number_text),
                    # A withheld figure exists but is confidential; an absent one cannot exist (e.g. pooled of a level).
                    "OBS_STATUS": ["A" if w or not is_null(v) else "M" for w, v in zip(withheld, value, strict=True)],
                    "CONF_STATUS": withheld.map(lambda w: CONF_BY_REASON.get(w, "C") if w else "F"),
                    "PMM_CYCLE": frame["cycle"],
                    "N_REPORTING": frame["n_reporting"].map(_int_text),
                    "N_PARTICIPATING": frame["n_participating"].map(_int_text),
                    "PMM_SUPPRESSED": frame["suppressed"].map(lambda v: "true" if v else "false"),
                    "PMM_SUPPRESSION_REASON": frame["suppression_reason"].map(lambda v: "" if is_null(v) else v),
                },
                columns=columns,
                dtype=object,
            )
        )
    if frame.empty:
        return pd.DataFrame(columns=columns, dtype=object)
    # Row by row, each group row's statistics in the order of STATISTICS.
    stacked = pd.concat(per_statistic, keys=range(len(STATISTICS)), names=["statistic", "row"])
    return stacked.swaplevel().sort_index(level=["row", "statistic"]).reset_index(drop=True)


def safe_observations(frame: pd.DataFrame, table: str, reporting_year: int, path: Path) -> pd.DataFrame:
    """The observations as they are written: text a spreadsheet would execute neutralized (as in every CSV output;
    numbers are left alone), and text with a carriage return refused (pysdmx, whose bytes these are, would
    leave such a field unquoted: no code of the contract has one, and a file that cannot be read back is worse)."""
    observations = sdmx_observations(frame, table, reporting_year)
    text_columns = [c for c in observations.columns if c != _MEASURE.id]
    for column in text_columns:
        observations[column] = _per_value(observations[column], neutralize_spreadsheet_text)
    broken = [c for c in text_columns if _per_value(observations[c], lambda v: isinstance(v, str) and "\r" in v).any()]
    if broken:
        raise ValueError(f"{path}: text with a carriage return in {broken} cannot be written as SDMX-CSV")
    return observations


def sdmx_csv_text(observations: pd.DataFrame, table: str) -> str:
    """SDMX-CSV 2.0 of the observations: the structure columns, then the components in the dataflow's order."""
    components = COMPONENTS[table]
    structure_id = f"{SDMX_AGENCY}:{dataflow_id(table)}({SDMX_VERSION})"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # pandas' to_csv, which pysdmx uses, is this writer
    writer.writerow(["STRUCTURE", "STRUCTURE_ID", "ACTION", *(c.id for c in components)])
    columns = []
    for c in components:
        # Empty (or NULL) text: a dimension's is "#N/A", any other component's is left empty (as pysdmx writes).
        values = _per_value(observations[c.id], lambda v: "" if is_null(v) else str(v))
        columns.append(values.replace("", MISSING_DIMENSION) if c.required else values)
    prefix = (STRUCTURE_TYPE, structure_id, ACTION)
    writer.writerows(prefix + row for row in zip(*columns, strict=True))
    return out.getvalue()


def write_sdmx_csv(frame: pd.DataFrame, path: Path, table: str, reporting_year: int) -> None:
    """SDMX-CSV 2.0 of a published table, written directly (the bytes pysdmx's writer would give)."""
    observations = safe_observations(frame, table, reporting_year, path)
    path.write_text(sdmx_csv_text(observations, table), encoding="utf-8")


def write_sdmx_csv_with_pysdmx(frame: pd.DataFrame, path: Path, table: str, reporting_year: int) -> None:
    """The same file written by pysdmx's own writer: the reference the direct writer is proven equal to."""
    from pysdmx.io.csv.sdmx20.writer import write
    from pysdmx.io.pd import PandasDataset

    observations = safe_observations(frame, table, reporting_year, path)
    text = write([PandasDataset(structure=sdmx_schema(table), data=observations)])
    path.write_text(text.replace("\r\n", "\n").rstrip("\n") + "\n", encoding="utf-8")


def _sdmx_header(table: str) -> str:
    return ",".join(["STRUCTURE", "STRUCTURE_ID", "ACTION", *(c.id for c in COMPONENTS[table])])


def read_sdmx_csv(path: Path) -> tuple[str, pd.DataFrame]:
    """An SDMX-CSV file parsed by pysdmx, turned back into the contract's table."""
    table, observations = read_observations(path)
    return table, table_of_observations(observations, table)


def read_observations(path: Path) -> tuple[str, pd.DataFrame]:
    """The table an SDMX-CSV file is of, and its observations as pysdmx reads them (text, empty as "")."""
    from pysdmx.io.csv.sdmx20.reader import read

    text = path.read_text(encoding="utf-8")
    table = path.name.split(".", 1)[0]
    if table in TABLE_COLUMNS and text.strip() == _sdmx_header(table):
        # An empty table is its header alone, which no SDMX reader accepts back.
        return table, pd.DataFrame(columns=[c.id for c in COMPONENTS[table]], dtype=object)
    datasets = read(text)
    if len(datasets) != 1:
        raise ValueError(f"{len(datasets)} datasets in one file")
    dataset = datasets[0]
    table = next((t for t in TABLE_COLUMNS if dataset.short_urn.endswith(f":{dataflow_id(t)}({SDMX_VERSION})")), None)
    if table is None:
        raise ValueError(f"unknown dataflow {dataset.short_urn}")
    return table, dataset.data


def table_of_observations(data: pd.DataFrame, table: str) -> pd.DataFrame:
    """SDMX observations as read by pysdmx, back as the contract's table (column by column, no row loop)."""
    obs = data.astype(object).where(data.notna(), None)
    obs = obs.map(lambda v: None if v in ("", None) else v)
    text_columns = [c for c in obs.columns if c != _MEASURE.id]
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
        return typed_table(frame)
    keys = ["PMM_CYCLE", "KPI", "SERIES", "GROUP_TYPE", "REF_AREA"]
    # One group row per key, in the order of its first observation; a statistic given twice keeps its last value.
    group = obs.groupby(keys, sort=False, dropna=False).ngroup()
    first = obs[~group.duplicated()]
    statistic = obs["STATISTIC"].str.lower()
    frame = pd.DataFrame(
        {
            "cycle": first["PMM_CYCLE"],
            "kpi_id": first["KPI"],
            "series": first["SERIES"],
            "group_type": first["GROUP_TYPE"],
            "group_code": first["REF_AREA"],
            "n_reporting": first["N_REPORTING"],
            "n_participating": first["N_PARTICIPATING"],
        }
    )
    ids = group[first.index]
    for s in STATISTICS:
        mine = statistic == s
        values = pd.Series(obs.loc[mine, "OBS_VALUE"].to_numpy(), index=group[mine].to_numpy())
        values = values[~values.index.duplicated(keep="last")]
        frame[s] = ids.map(values).astype(object).where(ids.isin(values.index), None).to_numpy()
    frame["suppressed"] = first["PMM_SUPPRESSED"].map(lambda v: str(v).lower() == "true")
    frame["suppression_reason"] = first["PMM_SUPPRESSION_REASON"]
    return typed_table(frame[TABLE_COLUMNS[table]].reset_index(drop=True))
