"""The static HTML report of a cycle and tier, one file per language: findings, charts, methodology, coverage.

The report opens from the file system without a server or network (plotly.js is inlined). Everything
it shows comes from the tier's published tables, embedded once as JSON (`pmm-data`); each chart's
figure is embedded as JSON too and drawn by the inlined plotly.js (the figures: report_charts.py).
Every text a reader reads comes from the gettext catalogues (i18n.py) or from the three-language
names of the catalogue and the reference data (KPIs, items, levels, groups, members, statuses).
report_read.py gives the embedded tables back for the release audit.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from pmm_pipeline.core.vocabulary import GROUP_TYPES, LANGUAGES
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS, TABLE_COLUMNS, json_ready
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
from pmm_pipeline.stages.publishing.report_charts import (
    chart,
    groups_figure,
    groups_rows,
    members_figure,
    members_rows,
    script_json,
)
from pmm_pipeline.stages.publishing.report_sections import release_metadata, trend_figure, trend_rows, trend_table

DATA_ID = "pmm-data"
TRENDS_KEY = "trends"  # in the embedded data: the earlier cycles' group figures the report draws
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


# The rows of the data block (`pmm-data`), which report_read.py reads back: every column a published table has.
def _records(frame: pd.DataFrame, table: str) -> list[dict]:
    return [{c: json_ready(v) for c, v in r.items()} for r in frame[TABLE_COLUMNS[table]].to_dict("records")]


@dataclass(frozen=True)
class SeriesRows:
    """What a report draws of one KPI series, alike in every language."""

    series: str
    groups: pd.DataFrame  # the groups chart's bars (report_charts.groups_rows)
    members: pd.DataFrame | None  # the members chart's bars (report_charts.members_rows); None: no members chart
    table: list[dict]  # the rollup table's rows, in its order
    history: pd.DataFrame  # the series across cycles (report_sections.trend_rows); empty: no trend


@dataclass(frozen=True)
class KpiRows:
    kpi: KpiSpec
    answered: Mapping[tuple, int | None]  # a categorical KPI's members answering (labels.answering)
    series: list[SeriesRows]


@dataclass(frozen=True)
class ReportRows:
    """A tier's tables as its reports draw them, alike in every language (report_rows): the selections and
    orderings are made once and each language's report only writes them out in its words."""

    data: dict  # the embedded data block (DATA_ID)
    kpis: list[KpiRows]  # the KPIs the report shows, in its order
    world: list[tuple[KpiSpec, list[dict]]]  # each KPI's all-members rows, by series: the key findings
    world_answered: Mapping[tuple, int | None]


def _ordered_kpis(kpis: Sequence[KpiSpec]) -> list[KpiSpec]:
    return sorted(kpis, key=lambda k: (k.dimension, k.id))


def report_rows(tables: Mapping[str, pd.DataFrame], kpis: Sequence[KpiSpec], trends: pd.DataFrame | None) -> ReportRows:
    """The rows every language's report of the tier draws (`kpis`, `trends`: the report context's)."""
    values, rollups = tables["kpi_values"], tables["rollups"]
    data = {"kpi_values": _records(values, "kpi_values"), "rollups": _records(rollups, "rollups")}
    ordered = _ordered_kpis(kpis)
    shown, histories = [], []
    for kpi in ordered:
        mine = rollups[rollups.kpi_id == kpi.id]
        if mine.empty and values[values.kpi_id == kpi.id].empty:
            continue
        # A level share's denominator: the members answering, over every level of the KPI's series in the group.
        answered = answering(mine) if kpi.shape == Shape.categorical else {}
        series_rows = []
        for series in sorted(mine.series.unique()):
            part = mine[mine.series == series]
            history = trend_rows(trends, kpi, series)
            if not history.empty:
                histories.append(history)
            series_rows.append(
                SeriesRows(
                    series=series,
                    groups=groups_rows(part),
                    members=members_rows(kpi, series, values),
                    table=_rollup_table_rows(part),
                    history=history,
                )
            )
        shown.append(KpiRows(kpi=kpi, answered=answered, series=series_rows))
    if histories:  # the earlier cycles' figures the trend charts draw, so that read_report can check them too
        data[TRENDS_KEY] = [{c: json_ready(v) for c, v in r.items()} for r in pd.concat(histories).to_dict("records")]
    world = rollups[rollups.group_type == "global"]
    categorical = [k.id for k in kpis if k.shape == Shape.categorical]
    return ReportRows(
        data=data,
        kpis=shown,
        world=[(kpi, world[world.kpi_id == kpi.id].sort_values("series").to_dict("records")) for kpi in ordered],
        world_answered=answering(world[world.kpi_id.isin(categorical)]),
    )


def _rollup_table_rows(rollups: pd.DataFrame) -> list[dict]:
    """A series' rollup rows in the table's order: by group type as declared, then by group."""
    order = {g: i for i, g in enumerate(GROUP_TYPES)}
    return rollups.assign(_order=rollups.group_type.map(order)).sort_values(["_order", "group_code"]).to_dict("records")


def _rollup_table(rows: list[dict], label: Labeller, kpi: KpiSpec, answered: Mapping[tuple, int | None]) -> str:
    _ = label._
    lang = label.lang
    shown = [s for s in ("mean", "median", "min", "max", "pooled") if s in _published(kpi) or s == "mean"]
    categorical = kpi.shape == Shape.categorical
    cells_of = []
    for r in rows:
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
        cells_of.append(
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
    return f"<table>{head}{''.join(cells_of)}</table>"


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


def _findings(rows: ReportRows, label: Labeller) -> str:
    """Key findings by dimension, written from the tier's own figures: how many answered, the average, the spread."""
    _ = label._
    lang = label.lang
    answered = rows.world_answered
    by_dimension: dict[int, list[str]] = {}
    for kpi, world in rows.world:
        for r in world:
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


def render_report(
    tables: Mapping[str, pd.DataFrame], ctx: ReportContext, files: Sequence[str] = (), rows: ReportRows | None = None
) -> str:
    """The whole report in `ctx.lang` as one HTML document (about 5 MB: plotly.js is inlined). `rows`: the tier's
    report_rows, when the caller renders several languages of one tier."""
    from plotly.offline import get_plotlyjs  # the charting library, only needed when releasing

    rows = rows if rows is not None else report_rows(tables, ctx.kpis, ctx.trends)
    label = Labeller(ctx)
    _ = label._
    values = tables["kpi_values"]
    by_dimension: dict[int, list[str]] = {}
    toc = []
    members_note = _("Each member's value is charted in the screen version of this report and is in the data files.")
    for shown in rows.kpis:
        kpi, answered = shown.kpi, shown.answered
        toc.append(f"<li><a href='#{_e(kpi.id)}'>{_e(label.kpi(kpi))}</a></li>")
        charts = []
        for drawn in shown.series:
            series = drawn.series
            body = chart(f"chart-{kpi.id}-{series}", groups_figure(kpi, series, drawn.groups, label, answered))
            if drawn.members is not None:
                body += chart(
                    f"members-{kpi.id}-{series}", members_figure(kpi, series, drawn.members, label), "members-chart"
                )
                body += f"<p class='note print-only'>{_e(members_note)}</p>"
            body += _rollup_table(drawn.table, label, kpi, answered)
            if not drawn.history.empty:
                body += f"<h4>{_e(_('Across cycles'))}</h4>"
                body += chart(
                    f"trend-{kpi.id}-{series}", trend_figure(label, kpi, series, drawn.history), "trend-chart"
                )
                body += trend_table(label, drawn.history)
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
<h2>{_e(_("Key findings by dimension"))}</h2>{_findings(rows, label)}
<h2>{_e(_("Contents"))}</h2><ul>{"".join(toc)}</ul>
<h2>{_e(_("Coverage and timeliness of submissions"))}</h2>{_coverage(values, label, {k.id: k for k in ctx.kpis})}
<h2>{_e(_("How figures are withheld"))}</h2>
<p>{_e(_("A statistic is withheld (left empty, with its reason) when:"))}</p>
<ol class='rules'>{rules}</ol>
{"".join(sections)}
<script type="application/json" id="{DATA_ID}">{script_json(rows.data)}</script>
<script>{DRAW_JS}</script>
</body></html>
"""
