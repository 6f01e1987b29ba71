"""The audit of a release's SDMX: structure.xml read back (schema-validated) and every SDMX-CSV value checked with it.

Each SDMX-CSV file is read by pysdmx with the dataflow's definition from the structure message beside
it, and every value is checked against its component: a code of its code list, a number, a whole
number, true or false, a pattern; an empty measure only where its status says why (missing, or
withheld); a given one only as a normal value.
"""

import math
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pmm_pipeline.stages.publishing.sdmx import (
    COMPONENTS,
    SDMX_AGENCY,
    SDMX_VERSION,
    dataflow_id,
    read_observations,
    table_of_observations,
)
from pmm_pipeline.stages.publishing.sdmx_structure import (
    CONF_STATUS_NAMES,
    OBS_STATUS_NAMES,
    REASON_COMPONENT,
    STRUCTURE_FILE,
)

MISSING = {code for code in OBS_STATUS_NAMES if code != "A"}  # what an empty value may be
CONFIDENTIAL = {code for code in CONF_STATUS_NAMES if code not in ("F", "N")}  # withheld from this file's readers
BOOLEAN = ("true", "false")


def read_structure(path: Path):
    """The structure message read back by pysdmx, checked against the SDMX-ML 3.0 schemas (once per content)."""
    return _read_structure(path.read_bytes())


@lru_cache(maxsize=4)
def _read_structure(content: bytes):
    from pysdmx.io import read_sdmx

    return read_sdmx(content.decode("utf-8"), validate=True)


def structure_problems(path: Path) -> list[str]:
    """What is amiss with a structure.xml: not readable, or without the dataflows of the SDMX-CSV files."""
    try:
        message = read_structure(path)
    except Exception as err:  # an unreadable structure is a problem to report, not a crash
        return [f"not a readable SDMX structure message ({type(err).__name__}: {err})"]
    flows = {s.id for s in message.structures if type(s).__name__ == "Dataflow"}
    missing = sorted({dataflow_id(t) for t in COMPONENTS} - flows)
    return [f"no dataflow {m} in the structure" for m in missing]


def dataflow_schema(message, table: str):
    """The Schema of a table's dataflow as the structure message defines it (components with their code lists)."""
    flow = message.get_dataflow(f"Dataflow={SDMX_AGENCY}:{dataflow_id(table)}({SDMX_VERSION})")
    return message.get_data_structure_definition(flow.structure).to_schema()


def read_checked(path: Path, structure_path: Path) -> tuple[str, pd.DataFrame | None, list[str]]:
    """An SDMX-CSV file of the release as the audit reads it: its table (None if its values are not the table's),
    and its values checked against the structure message beside it (the file is read once, by pysdmx)."""
    table, observations = read_observations(path)
    if not structure_path.exists():
        problems = [f"no {STRUCTURE_FILE} beside it: its codes cannot be checked"]
    else:
        try:
            schema = dataflow_schema(read_structure(structure_path), table)
            problems = observation_problems(observations, schema)
        except Exception as err:  # reported against structure.xml itself too; here: this file cannot be checked
            problems = [f"cannot be checked against {STRUCTURE_FILE} ({type(err).__name__}: {err})"]
    try:
        frame = table_of_observations(observations, table)
    except (ValueError, TypeError) as err:
        return table, None, [*problems, f"cannot be read back as {table} ({type(err).__name__}: {err})"]
    return table, frame, problems


def data_problems(data_path: Path, structure_path: Path) -> list[str]:
    """The SDMX-CSV file read with the structure message by pysdmx's get_datasets, every value checked."""
    from pysdmx.io import get_datasets

    text = data_path.read_text(encoding="utf-8")
    if "\n" not in text.strip():
        return []  # a table without rows is its header alone
    problems = []
    for dataset in get_datasets(text, structure_path.read_text(encoding="utf-8")):
        problems += observation_problems(dataset.data, dataset.structure)
    return problems


def observation_problems(observations: pd.DataFrame, schema) -> list[str]:
    """Every value of every component that the component does not allow."""
    data = observations.astype(object).where(observations.notna(), "")
    problems = []
    for component in schema.components:
        if component.id not in data.columns:
            problems.append(f"no column {component.id}")
            continue
        problems += _component_problems(component, data)
    return problems


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text))
    except ValueError:
        return False


def _is_count(text: str) -> bool:
    return text.isdigit() or (_is_number(text) and float(text).is_integer() and float(text) >= 0)


def _component_problems(component, data) -> list[str]:
    """Values of one column that its component does not allow (at most a few, named)."""
    values = data[component.id].map(str)
    present = values[values != ""]
    if component.id == "OBS_VALUE":
        problems = [f"OBS_VALUE {v!r} is not a number" for v in sorted(set(present))[:10] if not _is_number(v)]
        # An empty value is missing (M, O) or withheld (confidential, or its reason names the statistic).
        empty = data[values == ""]
        withheld = empty["CONF_STATUS"].isin(CONFIDENTIAL)
        if REASON_COMPONENT in empty.columns:  # a group statistic withheld though not confidential (not_finite)
            withheld |= empty[REASON_COMPONENT].map(str).ne("")
        unexplained = empty[~empty["OBS_STATUS"].isin(MISSING) & ~withheld]
        if len(unexplained):
            problems.append(f"{len(unexplained)} empty OBS_VALUE(s) neither missing nor withheld")
        given = data[values != ""]
        if (given["OBS_STATUS"] != "A").any():
            problems.append("an OBS_VALUE is given with a status other than A (normal value)")
        return problems
    if component.required and len(present) < len(values):
        return [f"{component.id} is empty in {len(values) - len(present)} row(s)"]
    codes = component.enumeration
    if codes is not None:
        wrong = sorted(set(present) - {code.id for code in codes.items})
        return [f"{component.id} {v!r} is not a code of {codes.id}" for v in wrong[:10]]
    facets = component.facets
    pattern = facets.pattern if facets is not None else None
    if pattern:
        wrong = sorted(v for v in set(present) if not re.fullmatch(pattern, v))
        return [f"{component.id} {v!r} does not follow its pattern" for v in wrong[:10]]
    if component.dtype is not None and component.dtype.value == "Integer":
        return [f"{component.id} {v!r} is not a whole number" for v in sorted(set(present))[:10] if not _is_count(v)]
    if component.dtype is not None and component.dtype.value == "Boolean":  # pysdmx may have typed it: True
        return [f"{component.id} {v!r} is not true or false" for v in sorted(set(present)) if v.lower() not in BOOLEAN]
    return []
