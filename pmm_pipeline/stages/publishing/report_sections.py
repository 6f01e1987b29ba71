"""Two sections of the report: the release's facts (date, version, licence, citation, contact, downloads) and each
KPI series' group figures across the tier's published cycles, with a marked break where a definition changed.

Pure functions of the report's context (labels.ReportContext): report.py places their HTML and figures.
"""

from collections.abc import Sequence

import pandas as pd

from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.stages.publishing.formats import json_ready
from pmm_pipeline.stages.publishing.i18n import N_
from pmm_pipeline.stages.publishing.labels import Labeller, count_text, escape, format_number, missing, unit_text

BREAK_COLOR = "#b03a2e"
# The publisher's name as core/settings.py declares it by default, in the catalogue so that each language names it
# in its own words; another name set there is shown as set (and noted as lacking its translation, see i18n.py).
PUBLISHER_NAME = N_("World Customs Organization (WCO)")


def comparable(row: dict) -> bool | None:
    """A trend row's comparable_with_previous as True, False or None (no earlier cycle to compare with)."""
    flag = row["comparable_with_previous"]
    return None if missing(flag) else bool(flag)


def release_metadata(label: Labeller, files: Sequence[str]) -> str:
    """What a reader needs to re-use and cite the release, and every file of it to download."""
    _ = label._
    ctx, terms = label.ctx, label.ctx.terms
    version = _("KPI catalogue {catalogue}; release {release}; code {code}").format(
        catalogue=ctx.catalogue_version or "?", release=ctx.release_id or "?", code=ctx.code_version or "?"
    )
    title = _("WCO Performance Measurement Mechanism: cycle {cycle}").format(cycle=ctx.cycle)
    year = (ctx.publication_date or "")[:4] or "?"
    citation = terms.citation.format(
        publisher=_(terms.publisher),
        year=year,
        title=f"{title} ({label.tier(ctx.tier)})",
        version=version,
        url=terms.url,
    )
    facts = [
        (_("Cycle"), escape(ctx.cycle)),
        (_("Reporting year"), escape(ctx.reporting_year)),
        (_("Audience"), escape(label.tier(ctx.tier))),
        (_("Release date"), escape(ctx.publication_date or "?")),
        (_("Version"), escape(version)),
        (_("Licence"), f"<a href='{escape(terms.licence_url)}'>{escape(terms.licence_name)}</a>"),
        (_("How to cite"), escape(citation)),
        (_("Contact"), f"<a href='mailto:{escape(terms.contact)}'>{escape(terms.contact)}</a>"),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in facts)
    links = "".join(f"<li><a href='{escape(f)}'>{escape(f)}</a></li>" for f in files)
    return (
        f"<table class='release'>{rows}</table><p>{escape(_('Files of this release:'))}</p>"
        f"<ul class='downloads'>{links}</ul>"
    )


def trend_rows(trends: pd.DataFrame | None, kpi: KpiSpec, series: str) -> pd.DataFrame:
    """The series' figure over all members in each published cycle, oldest first (empty: nothing to compare);
    `trends`: the report context's."""
    if trends is None or trends.empty:
        return trends.iloc[0:0] if trends is not None else pd.DataFrame()
    mine = trends[(trends.kpi_id == kpi.id) & (trends.series == series) & (trends.group_type == "global")]
    return mine.reset_index(drop=True) if mine.cycle.nunique() > 1 else mine.iloc[0:0]


def trend_figure(label: Labeller, kpi: KpiSpec, series: str, rows: pd.DataFrame) -> dict:
    """The mean in each cycle as a line, cut where the KPI is not comparable with the cycle before (a new line
    starts, and a dashed mark names the break)."""
    _ = label._
    segments: list[list[dict]] = []
    for row in rows.to_dict("records"):
        if not segments or comparable(row) is False:
            segments.append([])
        segments[-1].append(row)
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers+text",
            "name": _("mean of the members reporting"),
            "x": [r["cycle"] for r in segment],
            "y": [json_ready(r["mean"]) for r in segment],
            "text": [format_number(r["mean"], label.lang) for r in segment],
            "textposition": "top center",
            "cliponaxis": False,
            "line": {"color": "#336699"},
        }
        for segment in segments
    ]
    cycles = list(rows["cycle"])
    # Halfway between the cycle before and the cycle whose definition changed (a category axis counts from 0).
    breaks = [cycles.index(r["cycle"]) - 0.5 for r in rows.to_dict("records") if comparable(r) is False]
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": at,
            "x1": at,
            "y0": 0,
            "y1": 1,
            "line": {"color": BREAK_COLOR, "dash": "dash"},
        }
        for at in breaks
    ]
    annotations = [
        {
            "x": at,
            "xref": "x",
            "yref": "paper",
            "y": 1.12,
            "showarrow": False,
            "text": _("break: definition changed"),
            "font": {"color": BREAK_COLOR},
        }
        for at in breaks
    ]
    return {
        "data": data,
        "layout": {
            "title": {
                "text": _("Across cycles: {kpi} ({series})").format(
                    kpi=label.kpi(kpi), series=label.series(kpi, series)
                )
            },
            "showlegend": False,
            "height": 260,
            "margin": {"t": 70, "b": 40, "l": 50, "r": 30},
            # Every cycle in order on one axis whatever line it belongs to (Plotly would order a category axis by
            # the traces, and range it on the first).
            "xaxis": {
                "type": "category",
                "categoryorder": "array",
                "categoryarray": cycles,
                "range": [-0.5, len(cycles) - 0.5],
                "title": {"text": _("cycle")},
            },
            "yaxis": {"title": {"text": unit_text(kpi, _)}, "automargin": True},
            "shapes": shapes,
            "annotations": annotations,
        },
    }


def trend_table(label: Labeller, rows: pd.DataFrame) -> str:
    _ = label._
    lang = label.lang
    body = []
    for r in rows.to_dict("records"):
        if comparable(r) is False:
            note = _("not comparable with the cycle before: the KPI's definition changed")
        elif comparable(r) is True:
            note = _("comparable with the cycle before")
        else:
            note = ""
        n_of_n = _("{n} of {total}").format(
            n="?" if missing(r["n_reporting"]) else count_text(r["n_reporting"], lang),
            total=count_text(r["n_participating"], lang),
        )
        body.append(
            f"<tr><td>{escape(r['cycle'])}</td><td class='num'>{escape(n_of_n)}</td>"
            f"<td class='num'>{format_number(r['mean'], lang)}</td>"
            f"<td class='num'>{format_number(r['median'], lang)}</td>"
            f"<td>{escape(note)}</td></tr>"
        )
    heads = (_("cycle"), _("n of N"), _("mean"), _("median"), _("comparability"))
    return (
        "<table class='trend'><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in heads)
        + "</tr>"
        + "".join(body)
        + "</table>"
    )
