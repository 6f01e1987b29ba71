"""The report's Plotly charts: each KPI series' groups and members as bar figures, and how a figure is embedded in
the page (a JSON script element drawn by the inlined plotly.js, read back by report_read.py).
"""

import json
from collections.abc import Mapping

import pandas as pd

from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.formats import json_ready
from pmm_pipeline.stages.publishing.labels import Labeller, level_series, unit_text
from pmm_pipeline.stages.publishing.labels import count_text as _count
from pmm_pipeline.stages.publishing.labels import escape as _e
from pmm_pipeline.stages.publishing.labels import missing as _missing

FIGURE_CLASS = "pmm-figure"
BAR_PX = 22  # height of one bar of a chart, so that any number of members stays readable


def script_json(value: object) -> str:
    """JSON safe inside <script>: no `</` can close the element early."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True).replace("</", "<\\/")


def groups_rows(rollups: pd.DataFrame) -> pd.DataFrame:
    """A series' bars in the groups chart: each region sorted by the mean, then all members (plotly draws the first
    category at the bottom)."""
    wanted = rollups[rollups.group_type.isin(["global", "region"])]
    world = wanted[wanted.group_type == "global"]
    regions = wanted[wanted.group_type == "region"].sort_values(["mean", "group_code"], na_position="last")
    return pd.concat([regions.iloc[::-1], world])


def groups_figure(
    kpi: KpiSpec, series: str, ordered: pd.DataFrame, label: Labeller, answered: Mapping[tuple, int | None]
) -> dict:
    """All members, then each region, as horizontal bars of the mean, each with its n of N; sorted by the mean
    (`ordered`: groups_rows)."""
    _ = label._
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


def members_rows(kpi: KpiSpec, series: str, values: pd.DataFrame) -> pd.DataFrame | None:
    """The members a series' members chart draws, sorted by value; None when it has no members chart."""
    members = values[(values.kpi_id == kpi.id) & (values.series == series) & (values.status == "reported")]
    if members.empty or kpi.shape == Shape.categorical:
        return None
    return members.sort_values(["value", "member_code"])


def members_figure(kpi: KpiSpec, series: str, members: pd.DataFrame, label: Labeller) -> dict:
    """The members visible in the tier (`members`: members_rows), named, one bar each, highest at the top."""
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


def chart(div: str, figure: dict, kind: str = "") -> str:
    return (
        f"<div id='{_e(div)}' class='chart {kind}'></div>"
        f"<script type='application/json' class='{FIGURE_CLASS}' data-div='{_e(div)}'>{script_json(figure)}</script>"
    )
