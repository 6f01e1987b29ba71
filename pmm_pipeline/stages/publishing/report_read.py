"""Reading a released report back for the audit: the tables it embeds, and whether its charts and page language
agree with them.
"""

import json
import re
from pathlib import Path

import pandas as pd

from pmm_pipeline.stages.publishing.formats import TABLE_COLUMNS, typed_table
from pmm_pipeline.stages.publishing.report import DATA_ID, TRENDS_KEY, report_language
from pmm_pipeline.stages.publishing.report_charts import FIGURE_CLASS

_DATA_RE = re.compile(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', re.S)
_FIGURE_RE = re.compile(
    rf"<script type='application/json' class='{FIGURE_CLASS}' data-div='[^']*'>(.*?)</script>", re.S
)
_LANG_RE = re.compile(r'<html lang="([^"]*)"')


def read_report(path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The tables embedded in a report, and what is amiss: a charted number that is not one of theirs, a
    charted member with no value in them, a page language other than its file name's."""
    text = path.read_text(encoding="utf-8")
    found = _DATA_RE.findall(text)
    if len(found) != 1:
        raise ValueError(f"{len(found)} embedded data blocks (expected 1)")
    data = json.loads(found[0])
    tables = {t: typed_table(pd.DataFrame(data[t], columns=TABLE_COLUMNS[t])) for t in TABLE_COLUMNS}
    earlier = [list(r.values()) for r in data.get(TRENDS_KEY, [])]
    known = {
        float(v)
        for v in [*(v for t in tables.values() for c in t.columns for v in t[c]), *(v for r in earlier for v in r)]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not pd.isna(v)
    }
    values = tables["kpi_values"]
    with_value = set(values.loc[values.status == "reported", "member_code"])
    problems = []
    lang = report_language(path.name)
    declared = _LANG_RE.findall(text[:2000])
    if lang is not None and declared != [lang]:
        problems.append(f"the page declares language {declared} instead of {lang!r}")
    figures = _FIGURE_RE.findall(text)
    if text.count(f"class='{FIGURE_CLASS}'") != len(figures):
        problems.append("a chart's figure cannot be read back")
    for figure in figures:
        for trace in json.loads(figure)["data"]:
            for axis in ("x", "y"):
                for v in trace.get(axis, []):
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) not in known:
                        problems.append(f"chart {trace.get('name')!r} draws {v}, which is in none of the tier's tables")
            for code in trace.get("customdata", []):
                if code not in with_value:
                    problems.append(f"chart {trace.get('name')!r} names {code}, which has no value in the tier")
    return tables, problems
