"""The static HTML report of a cycle and tier, one file per language: findings, charts, methodology, coverage.

The report opens from the file system without a server or network (plotly.js is inlined). Everything
it shows comes from the tier's published tables, embedded once as JSON (`pmm-data`); each chart's
figure is embedded as JSON too and drawn by the inlined plotly.js. Every text a reader reads comes
from the gettext catalogues (i18n.py) or from the three-language names of the catalogue and the
reference data (KPIs, items, levels, groups, members, statuses). `read_report` gives the embedded
tables back for the release audit and checks that every number a chart draws is one of those tables'
numbers and that every member a chart names has a value in them.
"""

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.vocabulary import GROUP_TYPES, LANGUAGES
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS, TABLE_COLUMNS, json_ready, typed_table
from pmm_pipeline.stages.publishing.i18n import N_
from pmm_pipeline.stages.publishing.labels import (  # noqa: F401 (ReportContext, reasons_in_words: this module's API)
    DIMENSION_NAMES,
    STATISTIC_NAMES,
    SUPPRESSION_RULES,
    Labeller,
    ReportContext,
    answering,
    format_number,
    level_series,
    reasons_in_words,
    unit_text,
)
from pmm_pipeline.stages.publishing.labels import count_text as _count
from pmm_pipeline.stages.publishing.labels import escape as _e
from pmm_pipeline.stages.publishing.labels import missing as _missing
from pmm_pipeline.stages.publishing.report_sections import release_metadata, trend_figure, trend_rows, trend_table

DATA_ID = "pmm-data"
TRENDS_KEY = "trends"  # in the embedded data: the earlier cycles' group figures the report draws
FIGURE_CLASS = "pmm-figure"
REPORT_NAME = re.compile(r"^report_([a-z]{2})\.html$")


def report_file(lang: str) -> str:
    return f"report_{lang}.html"


def report_language(name: str) -> str | None:
    """The language of a report file of the release (`report_fr.html` -> `fr`), None for any other name."""
    found = REPORT_NAME.match(name)
    return found.group(1) if found and found.group(1) in LANGUAGES else None


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
SHAPE_NAMES = {
    Shape.ratio: N_("a share of a whole"),
    Shape.variation: N_("a change between the year before and the reporting year"),
    Shape.value: N_("a value"),
    Shape.categorical: N_("an answer among declared levels, shown as the share of members at each level"),
}
INLINE_TEXTS = (
    N_("Across cycles"),
    N_("group type"),
    N_("group"),
    N_("n of N"),
    N_("withheld, and why"),
    N_("A group statistic of this KPI is withheld from this tier when:"),
    N_("Unit: {unit}. The KPI is {shape}. Formula per series:"),
    N_("item"),
    N_("question"),
    N_("unit"),
    N_("Statistics published per group: {statistics}."),
    N_("Member values shown in this tier, by status:"),
    N_("KPI"),
    N_("No group figure is published in this tier."),
    N_("Files of this release:"),
    N_("Methodology"),
    N_("WCO Performance Measurement Mechanism: cycle {cycle}"),
    N_("About this release"),
    N_("Key findings by dimension"),
    N_("Contents"),
    N_("Coverage and timeliness of submissions"),
    N_("How figures are withheld"),
    N_("A statistic is withheld (left empty, with its reason) when:"),
)
CSS = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1d; line-height: 1.45; }
h1, h2, h3 { font-family: 'Helvetica Neue', Arial, sans-serif; color: #003366; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.kpi { border-top: 2px solid #003366; margin-top: 2rem; }
.chart { width: 100%; }
.note { color: #555; font-size: 0.9rem; }
code { font-size: 0.85rem; }
.print-only { display: none; }
.break { color: #b03a2e; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; margin: 0; font-size: 9pt; line-height: 1.3; }
  h2 { font-size: 13pt; } h3 { font-size: 10.5pt; margin: 0.6rem 0 0.2rem; }
  table { font-size: 7.5pt; margin: 0.2rem 0 0.5rem; }
  .dimension { break-before: page; }
  .kpi { break-inside: auto; margin-top: 0.8rem; }
  .chart, table, .series { break-inside: avoid; }
  .methodology, .members-chart, .screen-only { display: none; }
  .print-only { display: block; }
  td .print-only { display: inline; }
  a { color: inherit; text-decoration: none; }
}
"""
PRINT_WIDTH_PX = 680  # an A4 page's text width (186 mm at 96 dpi, less a margin): charts are drawn again to fit it
# Draws every embedded figure once plotly.js (inlined above it) has loaded; no network, no server.
DRAW_JS = """
document.querySelectorAll('script.pmm-figure').forEach(function (node) {
  var figure = JSON.parse(node.textContent);
  Plotly.newPlot(node.dataset.div, figure.data, figure.layout, {displayModeBar: false, responsive: true});
});
window.matchMedia('print').addEventListener('change', function (query) {
  document.querySelectorAll('.chart.js-plotly-plot').forEach(function (div) {
    Plotly.relayout(div, {width: query.matches ? PRINT_WIDTH : null, autosize: !query.matches});
  });
});
""".replace("PRINT_WIDTH", str(PRINT_WIDTH_PX))
BAR_PX = 22  # height of one bar of a chart, so that any number of members stays readable


def _script_json(value: object) -> str:
    """JSON safe inside <script>: no `</` can close the element early."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True).replace("</", "<\\/")


def _records(frame: pd.DataFrame, table: str) -> list[dict]:
    return [{c: json_ready(v) for c, v in r.items()} for r in frame[TABLE_COLUMNS[table]].to_dict("records")]


def _groups_figure(
    kpi: KpiSpec, series: str, rollups: pd.DataFrame, label: Labeller, answered: Mapping[tuple, int | None]
) -> dict:
    """All members, then each region, as horizontal bars of the mean, each with its n of N; sorted by the mean."""
    _ = label._
    wanted = rollups[rollups.group_type.isin(["global", "region"])]
    world = wanted[wanted.group_type == "global"]
    regions = wanted[wanted.group_type == "region"].sort_values(["mean", "group_code"], na_position="last")
    ordered = pd.concat([regions.iloc[::-1], world])  # plotly draws the first category at the bottom
    categorical = kpi.shape == Shape.categorical
    texts = []
    for g, c, n, total, mean in zip(
        ordered.group_type,
        ordered.group_code,
        ordered.n_reporting,
        ordered.n_participating,
        ordered["mean"],
        strict=True,
    ):
        n_text = "?" if _missing(n) else _count(n, label.lang)
        if categorical:
            of = answered.get((kpi.id, level_series(series)[0], g, c))
            text = _("{n} of {answering} answering").format(
                n=n_text, answering="?" if of is None else _count(of, label.lang)
            )
        else:
            text = _("n={n} of N={total}").format(n=n_text, total=_count(total, label.lang))
        texts.append(text + (" " + _("(withheld)") if _missing(mean) else ""))
    unit = unit_text(kpi, _)
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": _("share of the members answering, at this level")
            if categorical
            else _("mean of the members reporting"),
            "y": [label.group(g, c) for g, c in zip(ordered.group_type, ordered.group_code, strict=True)],
            "x": [json_ready(v) for v in ordered["mean"]],
            "text": texts,
            "textposition": "outside",
            "cliponaxis": False,
            "marker": {"color": "#336699"},
        }
    ]
    title = f"{label.kpi(kpi)}: {label.series(kpi, series)}"
    # A withheld group draws no bar, so its n of N and "(withheld)" are written where the bar would start.
    withheld = [
        {"x": 0, "y": name, "text": text, "showarrow": False, "xanchor": "left", "font": {"color": "#555"}}
        for name, text, mean in zip(data[0]["y"], texts, ordered["mean"], strict=True)
        if _missing(mean)
    ]
    layout = {
        "title": {"text": title},
        "showlegend": False,
        "annotations": withheld,
        "height": 90 + BAR_PX * max(len(ordered), 3),
        "margin": {"t": 40, "b": 40, "l": 10, "r": 120},
        "xaxis": {"title": {"text": unit}, "automargin": True},
        "yaxis": {"automargin": True},
    }
    return {"data": data, "layout": layout}


def _members_figure(kpi: KpiSpec, series: str, values: pd.DataFrame, label: Labeller) -> dict | None:
    """The members visible in the tier, named, one bar each, sorted by value (highest at the top)."""
    members = values[(values.kpi_id == kpi.id) & (values.series == series) & (values.status == "reported")]
    if members.empty or kpi.shape == Shape.categorical:
        return None
    members = members.sort_values(["value", "member_code"])
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": label._("members (visible in this tier)"),
            "y": [label.member(c) for c in members.member_code],
            "x": [json_ready(v) for v in members.value],
            "customdata": list(members.member_code),
            "marker": {"color": "#99aacc"},
        }
    ]
    layout = {
        "title": {
            "text": label._("Members: {kpi} ({series})").format(kpi=label.kpi(kpi), series=label.series(kpi, series))
        },
        "showlegend": False,
        "height": 90 + BAR_PX * max(len(members), 3),
        "margin": {"t": 40, "b": 40, "l": 10, "r": 30},
        "xaxis": {"title": {"text": kpi.unit}, "automargin": True},
        "yaxis": {"automargin": True, "dtick": 1},
    }
    return {"data": data, "layout": layout}


def _chart(div: str, figure: dict, kind: str = "") -> str:
    return (
        f"<div id='{_e(div)}' class='chart {kind}'></div>"
        f"<script type='application/json' class='{FIGURE_CLASS}' data-div='{_e(div)}'>{_script_json(figure)}</script>"
    )


def _rollup_table(rollups: pd.DataFrame, label: Labeller, kpi: KpiSpec, answered: Mapping[tuple, int | None]) -> str:
    _ = label._
    lang = label.lang
    shown = [s for s in ("mean", "median", "min", "max", "pooled") if s in _published(kpi) or s == "mean"]
    categorical = kpi.shape == Shape.categorical
    rows = []
    order = {g: i for i, g in enumerate(GROUP_TYPES)}
    ordered = rollups.assign(_order=rollups.group_type.map(order)).sort_values(["_order", "group_code"])
    for r in ordered.to_dict("records"):
        cells = "".join(f"<td class='num'>{format_number(r[s], lang)}</td>" for s in shown)
        if categorical:
            of = answered.get((kpi.id, level_series(r["series"])[0], r["group_type"], r["group_code"]))
            n_of_n = _("{n} of {answering} answering").format(
                n="?" if _missing(r["n_reporting"]) else _count(r["n_reporting"], lang),
                answering="?" if of is None else _count(of, lang),
            )
        else:
            n_of_n = _("{n} of {total}").format(
                n=_count(r["n_reporting"], lang), total=_count(r["n_participating"], lang)
            )
        rows.append(
            f"<tr><td>{_e(label.group_type(r['group_type']))}</td>"
            f"<td>{_e(label.group(r['group_type'], r['group_code']))}</td><td class='num'>{_e(n_of_n)}</td>{cells}"
            f"<td><span class='screen-only'>{_e(label.reasons(r['suppression_reason']))}</span>"
            f"<span class='print-only'>{_e(label.reasons_short(r['suppression_reason']))}</span></td></tr>"
        )
    names = [_("share (%)") if kpi.shape == Shape.categorical and s == "mean" else _(STATISTIC_NAMES[s]) for s in shown]
    head = (
        f"<tr><th>{_e(_('group type'))}</th><th>{_e(_('group'))}</th><th>{_e(_('n of N'))}</th>"
        + "".join(f"<th>{_e(n)}</th>" for n in names)
        + f"<th>{_e(_('withheld, and why'))}</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _published(kpi: KpiSpec) -> list[str]:
    return [s.value for s in kpi.rollup.statistics]


def _suppression_rules(kpi: KpiSpec, label: Labeller) -> str:
    _ = label._
    published = _published(kpi)
    rules = "".join(
        f"<li><code>{_e(rule)}</code> ({_e(', '.join(s for s in published if s in applies))}):"
        f" {_e(_(SUPPRESSION_RULES[rule]).format(min_group_size=label.ctx.min_group_size))}</li>"
        for rule, applies in RULE_STATISTICS.items()
        if set(applies) & set(published)
    )
    intro = _("A group statistic of this KPI is withheld from this tier when:")
    return f"<p>{_e(intro)}</p><ul class='rules'>{rules}</ul>"


def _methodology(kpi: KpiSpec, label: Labeller) -> str:
    _ = label._
    formulas = "".join(f"<li><code>{_e(s.id)}: {_e(s.formula)}</code></li>" for s in kpi.series)
    items = "".join(
        f"<tr><td><code>{_e(i.code)}</code></td><td>{_e(i.labels.in_language(label.lang))}</td>"
        f"<td>{_e(i.unit or '')}</td></tr>"
        for i in kpi.items
    )
    stats = ", ".join(_(STATISTIC_NAMES[s]) for s in _published(kpi))
    intro = _("Unit: {unit}. The KPI is {shape}. Formula per series:").format(
        unit=unit_text(kpi, _), shape=_(SHAPE_NAMES[kpi.shape])
    )
    return (
        f"<p>{_e(intro)}</p><ul>{formulas}</ul>"
        f"<table><tr><th>{_e(_('item'))}</th><th>{_e(_('question'))}</th><th>{_e(_('unit'))}</th></tr>{items}</table>"
        f"<p>{_e(_('Statistics published per group: {statistics}.').format(statistics=stats))}</p>"
        f"{_suppression_rules(kpi, label)}"
    )


def _coverage(values: pd.DataFrame, label: Labeller, kpis: Mapping[str, KpiSpec]) -> str:
    _ = label._
    lang = label.lang
    parts = []
    completeness = label.ctx.completeness
    if completeness is not None and not completeness.empty:
        rows = "".join(
            f"<tr><td>{_e(label.group(r['group_type'], r['group_code']))}</td>"
            f"<td class='num'>{_count(r['members_expected'], lang)}</td>"
            f"<td class='num'>{_count(r['members_received'], lang)}</td>"
            f"<td class='num'>{_count(r['members_received_on_time'], lang)}</td>"
            f"<td class='num'>{_count(r['members_participating'], lang)}</td>"
            f"<td class='num'>{format_number(r['received_pct'], lang)}</td>"
            f"<td class='num'>{format_number(r['received_on_time_pct'], lang)}</td></tr>"
            for r in completeness.to_dict("records")
        )
        heads = (_("group"), _("expected"), _("received"), _("on time"), _("used"), _("% received"), _("% on time"))
        parts.append("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in heads) + f"</tr>{rows}</table>")
    counts = values.groupby(["kpi_id", "status"]).size().unstack(fill_value=0)
    statuses = list(STATUS_LABELS[lang])
    rows = "".join(
        f"<tr><td>{_e(label.kpi(kpis[k]) if k in kpis else k)}</td>"
        + "".join(f"<td class='num'>{int(counts.loc[k].get(s, 0))}</td>" for s in statuses)
        + "</tr>"
        for k in counts.index
    )
    parts.append(
        f"<p>{_e(_('Member values shown in this tier, by status:'))}</p><table><tr><th>{_e(_('KPI'))}</th>"
        + "".join(f"<th>{_e(label.status(s))}</th>" for s in statuses)
        + f"</tr>{rows}</table>"
    )
    return "".join(parts)


def _findings(rollups: pd.DataFrame, values: pd.DataFrame, kpis: Sequence[KpiSpec], label: Labeller) -> str:
    """Key findings by dimension, written from the tier's own figures: how many answered, the average, the spread."""
    _ = label._
    lang = label.lang
    world = rollups[rollups.group_type == "global"]
    answered = answering(world[world.kpi_id.isin([k.id for k in kpis if k.shape == Shape.categorical])])
    by_dimension: dict[int, list[str]] = {}
    for kpi in kpis:
        for r in world[world.kpi_id == kpi.id].sort_values("series").to_dict("records"):
            name = label.kpi(kpi) if r["series"] == "total" else f"{label.kpi(kpi)} ({label.series(kpi, r['series'])})"
            n, total = _count(r["n_reporting"], lang), _count(r["n_participating"], lang)
            if kpi.shape == Shape.categorical:
                if _missing(r["mean"]):
                    continue
                of = answered.get((kpi.id, level_series(r["series"])[0], "global", r["group_code"]))
                text = _(
                    "{name}: {share}% of the members answering ({n} of {answering}; {total} participating)."
                ).format(
                    name=name,
                    share=format_number(r["mean"], lang),
                    n=n,
                    answering="?" if of is None else _count(of, lang),
                    total=total,
                )
            elif not _missing(r["n_reporting"]) and int(r["n_reporting"]) == 0:
                text = _("{name}: none of the {total} participating members reported.").format(name=name, total=total)
            elif _missing(r["mean"]):
                text = _("{name}: {n} of {total} members reported; the average is withheld in this tier.").format(
                    name=name, n=n or "?", total=total
                )
            else:
                text = _("{name}: {mean} {unit} on average over the {n} of {total} members that reported.").format(
                    name=name, mean=format_number(r["mean"], lang), unit=kpi.unit, n=n, total=total
                )
                if not _missing(r["min"]) and not _missing(r["max"]):
                    text += " " + _("Values range from {low} to {high}.").format(
                        low=format_number(r["min"], lang), high=format_number(r["max"], lang)
                    )
            by_dimension.setdefault(kpi.dimension, []).append(text)
    if not by_dimension:
        return f"<p>{_e(_('No group figure is published in this tier.'))}</p>"
    return "".join(
        f"<h3>{_e(_(DIMENSION_NAMES[d]))}</h3><ul>" + "".join(f"<li>{_e(t)}</li>" for t in texts) + "</ul>"
        for d, texts in sorted(by_dimension.items())
    )


def render_report(tables: Mapping[str, pd.DataFrame], ctx: ReportContext, files: Sequence[str] = ()) -> str:
    """The whole report in `ctx.lang` as one HTML document (about 5 MB: plotly.js is inlined)."""
    from plotly.offline import get_plotlyjs  # the charting library, only needed when releasing

    label = Labeller(ctx)
    _ = label._
    values, rollups = tables["kpi_values"], tables["rollups"]
    data = {"kpi_values": _records(values, "kpi_values"), "rollups": _records(rollups, "rollups")}
    kpis = sorted(ctx.kpis, key=lambda k: (k.dimension, k.id))
    by_dimension: dict[int, list[str]] = {}
    toc, trends = [], []
    members_note = _("Each member's value is charted in the screen version of this report and is in the data files.")
    for kpi in kpis:
        mine = rollups[rollups.kpi_id == kpi.id]
        if mine.empty and values[values.kpi_id == kpi.id].empty:
            continue
        toc.append(f"<li><a href='#{_e(kpi.id)}'>{_e(label.kpi(kpi))}</a></li>")
        charts = []
        # A level share's denominator: the members answering, over every level of the KPI's series in the group.
        answered = answering(mine) if kpi.shape == Shape.categorical else {}
        for series in sorted(mine.series.unique()):
            part = mine[mine.series == series]
            body = _chart(f"chart-{kpi.id}-{series}", _groups_figure(kpi, series, part, label, answered))
            members = _members_figure(kpi, series, values, label)
            if members is not None:
                body += _chart(f"members-{kpi.id}-{series}", members, "members-chart")
                body += f"<p class='note print-only'>{_e(members_note)}</p>"
            body += _rollup_table(part, label, kpi, answered)
            history = trend_rows(label, kpi, series)
            if not history.empty:
                trends.append(history)
                body += f"<h4>{_e(_('Across cycles'))}</h4>"
                body += _chart(f"trend-{kpi.id}-{series}", trend_figure(label, kpi, series, history), "trend-chart")
                body += trend_table(label, history)
            charts.append(f"<div class='series'><h3>{_e(label.series(kpi, series))}</h3>{body}</div>")
        by_dimension.setdefault(kpi.dimension, []).append(
            f"<section class='kpi' id='{_e(kpi.id)}'><h2>{_e(label.kpi(kpi))}</h2>"
            f"<p class='note'>{_e(kpi.expected_outcome.in_language(ctx.lang))}</p>{''.join(charts)}"
            f"<div class='methodology'><h3>{_e(_('Methodology'))}</h3>{_methodology(kpi, label)}</div></section>"
        )
    sections = [
        f"<div class='dimension' id='dimension-{d}'><h2 class='dimension-title'>{_e(_(DIMENSION_NAMES[d]))}</h2>"
        + "".join(parts)
        + "</div>"
        for d, parts in sorted(by_dimension.items())
    ]
    if trends:  # the earlier cycles' figures the trend charts draw, so that read_report can check them too
        data[TRENDS_KEY] = [{c: json_ready(v) for c, v in r.items()} for r in pd.concat(trends).to_dict("records")]
    rules = "".join(
        f"<li><code>{_e(k)}</code>: {_e(_(v).format(min_group_size=ctx.min_group_size))}</li>"
        for k, v in SUPPRESSION_RULES.items()
    )
    title = _("PMM cycle {cycle}: results ({tier} tier)").format(cycle=ctx.cycle, tier=label.tier(ctx.tier))
    intro = _(
        "Results for reporting year {year}, as published to the {tier} tier. Group figures are unweighted means over"
        " the members that reported (n of N participating); rounding is for display only: the data files carry"
        " every digit."
    ).format(year=ctx.reporting_year, tier=label.tier(ctx.tier))
    return f"""<!DOCTYPE html>
<html lang="{_e(ctx.lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>{_e(_("WCO Performance Measurement Mechanism: cycle {cycle}").format(cycle=ctx.cycle))}</h1>
<p>{_e(intro)}</p>
<h2>{_e(_("About this release"))}</h2>{release_metadata(label, files)}
<h2>{_e(_("Key findings by dimension"))}</h2>{_findings(rollups, values, kpis, label)}
<h2>{_e(_("Contents"))}</h2><ul>{"".join(toc)}</ul>
<h2>{_e(_("Coverage and timeliness of submissions"))}</h2>{_coverage(values, label, {k.id: k for k in kpis})}
<h2>{_e(_("How figures are withheld"))}</h2>
<p>{_e(_("A statistic is withheld (left empty, with its reason) when:"))}</p>
<ol class='rules'>{rules}</ol>
{"".join(sections)}
<script type="application/json" id="{DATA_ID}">{_script_json(data)}</script>
<script>{DRAW_JS}</script>
</body></html>
"""


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
