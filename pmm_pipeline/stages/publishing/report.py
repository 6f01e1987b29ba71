"""The static HTML report of a cycle and tier: charts (plotly.js inlined), methodology from the specs, coverage.

The report opens from the file system without a server or network. Everything it shows comes from
the tier's published tables, embedded once as JSON (`pmm-data`); each chart's figure is embedded as
JSON too and drawn by the inlined plotly.js. `read_report` gives the embedded tables back for the
release audit and checks that every number a chart draws is one of those tables' numbers.
"""

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS, TABLE_COLUMNS, json_ready, typed_table

REPORT_FILE = "report.html"
DATA_ID = "pmm-data"
FIGURE_CLASS = "pmm-figure"
SUPPRESSION_RULES = {
    "min_group_size": "fewer than {min_group_size} members of the group reported the series",
    "hidden_member": "a minimum, maximum or median would be the value of a member hidden from this tier",
    "differencing": "a mean, pooled ratio or level count would, with the values shown, reveal a hidden value",
    "complementary": "with other published figures (e.g. global minus the other regions) it would reveal one",
    "earlier_release": "with the figures of earlier releases of the same reporting year it would reveal one",
    "not_finite": "it is too large to be represented as a number",
}
# The statistics each rule can withhold (docs/auditors.md, "Disclosure tiers"): a KPI's methodology lists the rules
# that apply to the statistics it publishes.
RULE_STATISTICS = {
    "min_group_size": ("mean", "median", "min", "max", "pooled", "level_counts"),
    "hidden_member": ("median", "min", "max"),
    "differencing": ("mean", "pooled", "level_counts"),
    "complementary": ("mean", "pooled", "level_counts"),
    "earlier_release": ("mean", "pooled", "level_counts"),
    "not_finite": ("mean", "median", "pooled"),
}
CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1d; line-height: 1.45; }
h1, h2, h3 { font-family: 'Helvetica Neue', Arial, sans-serif; color: #003366; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.kpi { border-top: 2px solid #003366; margin-top: 2rem; }
.chart { width: 100%; height: 380px; }
.note { color: #555; font-size: 0.9rem; }
code { font-size: 0.85rem; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  .kpi { page-break-before: always; }
  .chart { page-break-inside: avoid; height: 320px; }
  a { color: inherit; text-decoration: none; }
}
"""
# Draws every embedded figure once plotly.js (inlined above it) has loaded; no network, no server.
DRAW_JS = """
document.querySelectorAll('script.pmm-figure').forEach(function (node) {
  var figure = JSON.parse(node.textContent);
  Plotly.newPlot(node.dataset.div, figure.data, figure.layout, {displayModeBar: false, responsive: true});
});
"""


@dataclass(frozen=True)
class ReportContext:
    cycle: str
    reporting_year: int
    tier: str
    kpis: Sequence[KpiSpec]
    group_names: Mapping[tuple[str, str], str]  # (group_type, group_code) -> English name
    min_group_size: int
    completeness: pd.DataFrame | None  # collection.completeness of the cycle, when the warehouse has it


def _script_json(value: object) -> str:
    """JSON safe inside <script>: no `</` can close the element early."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True).replace("</", "<\\/")


def _records(frame: pd.DataFrame, table: str) -> list[dict]:
    return [{c: json_ready(v) for c, v in r.items()} for r in frame[TABLE_COLUMNS[table]].to_dict("records")]


def _fmt(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):,.1f}"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _figure(kpi: KpiSpec, series: str, rollups: pd.DataFrame, values: pd.DataFrame, ctx: ReportContext) -> dict:
    """Regions (and the global figure) as bars of the mean with n of N; visible members as points."""
    groups = rollups[(rollups.group_type.isin(["global", "region"]))].sort_values(["group_type", "group_code"])
    labels = [ctx.group_names.get((g, c), c) for g, c in zip(groups.group_type, groups.group_code, strict=True)]
    n_of_n = [
        f"n={'?' if pd.isna(n) else int(n)} of N={int(total)}" + (" (withheld)" if pd.isna(m) else "")
        for n, total, m in zip(groups.n_reporting, groups.n_participating, groups["mean"], strict=True)
    ]
    data = [
        {
            "type": "bar",
            "name": "mean of the members reporting",
            "x": labels,
            "y": [json_ready(v) for v in groups["mean"]],
            "text": n_of_n,
            "textposition": "outside",
            "marker": {"color": "#336699"},
        }
    ]
    members = values[(values.kpi_id == kpi.id) & (values.series == series) & (values.status == "reported")]
    if not members.empty and kpi.shape.value != "categorical":
        data.append(
            {
                "type": "bar",
                "name": "members (visible in this tier)",
                "x": list(members.member_code),
                "y": [json_ready(v) for v in members.value],
                "xaxis": "x2",
                "yaxis": "y2",
                "marker": {"color": "#99aacc"},
            }
        )
    layout = {
        "title": {"text": f"{kpi.names.en} ({series})"},
        "showlegend": True,
        "margin": {"t": 50, "b": 90},
        "yaxis": {"title": {"text": kpi.unit}, "domain": [0.55, 1] if len(data) > 1 else [0, 1]},
        "legend": {"orientation": "h"},
    }
    if len(data) > 1:
        layout |= {"xaxis2": {"anchor": "y2"}, "yaxis2": {"domain": [0, 0.4], "title": {"text": kpi.unit}}}
    return {"data": data, "layout": layout}


def _rollup_table(rollups: pd.DataFrame, ctx: ReportContext) -> str:
    rows = []
    for r in rollups.sort_values(["group_type", "group_code"]).to_dict("records"):
        name = ctx.group_names.get((r["group_type"], r["group_code"]), r["group_code"])
        n = "" if pd.isna(r["n_reporting"]) else int(r["n_reporting"])
        cells = "".join(f"<td class='num'>{_fmt(r[s])}</td>" for s in ("mean", "median", "min", "max", "pooled"))
        reason = "" if r["suppression_reason"] is None or pd.isna(r["suppression_reason"]) else r["suppression_reason"]
        rows.append(
            f"<tr><td>{_e(r['group_type'])}</td><td>{_e(name)}</td><td class='num'>{n} of"
            f" {int(r['n_participating'])}</td>{cells}<td>{_e(reason)}</td></tr>"
        )
    head = (
        "<tr><th>group type</th><th>group</th><th>n of N</th><th>mean</th><th>median</th><th>min</th>"
        "<th>max</th><th>pooled</th><th>withheld</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _suppression_rules(kpi: KpiSpec, ctx: ReportContext) -> str:
    published = [s.value for s in kpi.rollup.statistics]
    rules = "".join(
        f"<li><code>{_e(rule)}</code> ({_e(', '.join(s for s in published if s in applies))}):"
        f" {_e(SUPPRESSION_RULES[rule].format(min_group_size=ctx.min_group_size))}</li>"
        for rule, applies in RULE_STATISTICS.items()
        if set(applies) & set(published)
    )
    return f"<p>A group statistic of this KPI is withheld from this tier when:</p><ul class='rules'>{rules}</ul>"


def _methodology(kpi: KpiSpec, ctx: ReportContext) -> str:
    formulas = "".join(f"<li><code>{_e(s.id)}: {_e(s.formula)}</code></li>" for s in kpi.series)
    items = "".join(
        f"<tr><td><code>{_e(i.code)}</code></td><td>{_e(i.labels.en)}</td><td>{_e(i.type.value)}</td>"
        f"<td>{_e(i.unit or '')}</td></tr>"
        for i in kpi.items
    )
    stats = ", ".join(s.value for s in kpi.rollup.statistics)
    return (
        f"<p>Unit: {_e(kpi.unit)}. Shape: {_e(kpi.shape.value)}. Formula per series:</p><ul>{formulas}</ul>"
        f"<table><tr><th>item</th><th>question</th><th>type</th><th>unit</th></tr>{items}</table>"
        f"<p>Statistics published per group: {_e(stats)}.</p>{_suppression_rules(kpi, ctx)}"
    )


def _coverage(values: pd.DataFrame, ctx: ReportContext) -> str:
    parts = []
    if ctx.completeness is not None and not ctx.completeness.empty:
        rows = "".join(
            f"<tr><td>{_e(ctx.group_names.get((r['group_type'], r['group_code']), r['group_code']))}</td>"
            f"<td class='num'>{int(r['members_expected'])}</td><td class='num'>{int(r['members_received'])}</td>"
            f"<td class='num'>{int(r['members_received_on_time'])}</td>"
            f"<td class='num'>{int(r['members_participating'])}</td><td class='num'>{_fmt(r['received_pct'])}</td>"
            f"<td class='num'>{_fmt(r['received_on_time_pct'])}</td></tr>"
            for r in ctx.completeness.to_dict("records")
        )
        parts.append(
            "<table><tr><th>group</th><th>expected</th><th>received</th><th>on time</th><th>used</th>"
            f"<th>% received</th><th>% on time</th></tr>{rows}</table>"
        )
    counts = values.groupby(["kpi_id", "status"]).size().unstack(fill_value=0)
    rows = "".join(
        f"<tr><td>{_e(k)}</td>"
        + "".join(f"<td class='num'>{int(counts.loc[k].get(s, 0))}</td>" for s in STATUS_LABELS["en"])
        + "</tr>"
        for k in counts.index
    )
    parts.append(
        "<p>Member values shown in this tier, by status:</p><table><tr><th>KPI</th>"
        + "".join(f"<th>{_e(s)}</th>" for s in STATUS_LABELS["en"])
        + f"</tr>{rows}</table>"
    )
    return "".join(parts)


def render_report(tables: Mapping[str, pd.DataFrame], ctx: ReportContext) -> str:
    """The whole report as one HTML document (about 5 MB: plotly.js is inlined)."""
    from plotly.offline import get_plotlyjs  # the charting library, only needed when releasing

    values, rollups = tables["kpi_values"], tables["rollups"]
    data = {"kpi_values": _records(values, "kpi_values"), "rollups": _records(rollups, "rollups")}
    sections, toc = [], []
    for kpi in sorted(ctx.kpis, key=lambda k: (k.dimension, k.id)):
        mine = rollups[rollups.kpi_id == kpi.id]
        if mine.empty and values[values.kpi_id == kpi.id].empty:
            continue
        toc.append(f"<li><a href='#{_e(kpi.id)}'>{_e(kpi.names.en)}</a></li>")
        charts = []
        for series in sorted(mine.series.unique()):
            div = f"chart-{kpi.id}-{series}"
            figure = _figure(kpi, series, mine[mine.series == series], values, ctx)
            charts.append(
                f"<h3>{_e(series)}</h3><div id='{_e(div)}' class='chart'></div>"
                f"<script type='application/json' class='{FIGURE_CLASS}' data-div='{_e(div)}'>"
                f"{_script_json(figure)}</script>{_rollup_table(mine[mine.series == series], ctx)}"
            )
        sections.append(
            f"<section class='kpi' id='{_e(kpi.id)}'><h2>{_e(kpi.names.en)}</h2>"
            f"<p class='note'>{_e(kpi.names.fr)} · {_e(kpi.names.es)}</p>{''.join(charts)}"
            f"<h3>Methodology</h3>{_methodology(kpi, ctx)}</section>"
        )
    rules = "".join(
        f"<li><code>{_e(k)}</code>: {_e(v.format(min_group_size=ctx.min_group_size))}</li>"
        for k, v in SUPPRESSION_RULES.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PMM cycle {_e(ctx.cycle)}: results ({_e(ctx.tier)} tier)</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>WCO Performance Measurement Mechanism: cycle {_e(ctx.cycle)}</h1>
<p>Results for reporting year {ctx.reporting_year}, as published to the <strong>{_e(ctx.tier)}</strong> tier. Group
figures are unweighted means over the members that reported (n of N participating); rounding is for display only:
the data files carry every digit.</p>
<h2>Contents</h2><ul>{"".join(toc)}</ul>
<h2>Coverage and timeliness of submissions</h2>{_coverage(values, ctx)}
<h2>How figures are withheld</h2><p>A statistic is withheld (left empty, with its reason) when:</p><ul>{rules}</ul>
{"".join(sections)}
<script type="application/json" id="{DATA_ID}">{_script_json(data)}</script>
<script>{DRAW_JS}</script>
</body></html>
"""


_DATA_RE = re.compile(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', re.S)
_FIGURE_RE = re.compile(
    rf"<script type='application/json' class='{FIGURE_CLASS}' data-div='[^']*'>(.*?)</script>", re.S
)


def read_report(path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The tables embedded in a report, and every charted number that is not one of theirs."""
    text = path.read_text(encoding="utf-8")
    found = _DATA_RE.findall(text)
    if len(found) != 1:
        raise ValueError(f"{len(found)} embedded data blocks (expected 1)")
    data = json.loads(found[0])
    tables = {t: typed_table(pd.DataFrame(data[t], columns=TABLE_COLUMNS[t])) for t in TABLE_COLUMNS}
    known = {
        float(v)
        for t in tables.values()
        for c in t.columns
        for v in t[c]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not pd.isna(v)
    }
    problems = []
    figures = _FIGURE_RE.findall(text)
    if text.count(f"class='{FIGURE_CLASS}'") != len(figures):
        problems.append("a chart's figure cannot be read back")
    for figure in figures:
        for trace in json.loads(figure)["data"]:
            for v in trace.get("y", []):
                if v is not None and float(v) not in known:
                    problems.append(f"chart {trace.get('name')!r} draws {v}, which is in none of the tier's tables")
    return tables, problems
