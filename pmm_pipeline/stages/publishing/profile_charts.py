"""The charts of a member profile as inline SVG (a profile has no script): where the member stands among its
groups, and its own value across cycles with a marked break where the KPI's definition changed.

Every label sits on its own line or in its own column, so labels cannot overlap whatever their length.
"""

from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.stages.publishing.labels import Labeller, escape, format_number

WIDTH = 640
ROW = 34  # one group: its label line, then its bar
PLOT_LEFT, PLOT_RIGHT = 10, WIDTH - 10
MEMBER_COLOR, GROUP_COLOR, BREAK_COLOR = "#b35900", "#336699", "#b03a2e"


def _scale(low: float, high: float):
    span = (high - low) or 1.0
    return lambda v: PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (v - low) / span


def position_chart(entry: dict, kpi: KpiSpec, label: Labeller) -> str:
    """Each group's range (minimum to maximum) and median, the member's value across them; empty when there is
    nothing to place (no value of the member and no group figure)."""
    _ = label._
    groups = [g for g in entry["groups"] if g["median"] is not None or g["mean"] is not None]
    own = entry["value"] if entry["status"] == "reported" else None
    numbers = [v for g in groups for v in (g["min"], g["max"], g["median"], g["mean"]) if v is not None]
    numbers += [own] if own is not None else []
    if not groups or not numbers:
        return ""
    low, high = min(numbers), max(numbers)
    x = _scale(low, high)
    top = 26
    height = top + ROW * len(groups) + 22
    # The scale's two ends, on their own line below the groups.
    parts = [
        f"<line x1='{PLOT_LEFT}' x2='{PLOT_RIGHT}' y1='{height - 18}' y2='{height - 18}' stroke='#999'/>",
        f"<text class='label' x='{PLOT_LEFT}' y='{height - 4}' font-size='10'>{escape(format_number(low, label.lang))}"
        "</text>",
        f"<text class='label' x='{PLOT_RIGHT}' y='{height - 4}' font-size='10' text-anchor='end'>"
        f"{escape(format_number(high, label.lang))}</text>",
    ]
    for i, g in enumerate(groups):
        y = top + ROW * i
        centre = g["median"] if g["median"] is not None else g["mean"]
        statistic = _("median") if g["median"] is not None else _("mean")
        text = f"{label.group(g['group_type'], g['group_code'])}: {statistic} {format_number(centre, label.lang)}"
        parts.append(f"<text class='label' x='{PLOT_LEFT}' y='{y + 11}' font-size='11'>{escape(text)}</text>")
        if g["min"] is not None and g["max"] is not None:
            parts.append(
                f"<rect x='{x(g['min']):.1f}' y='{y + 17}' width='{max(x(g['max']) - x(g['min']), 1):.1f}' height='8'"
                f" fill='{GROUP_COLOR}' opacity='0.35'/>"
            )
        parts.append(f"<rect x='{x(centre) - 1.5:.1f}' y='{y + 14}' width='3' height='14' fill='{GROUP_COLOR}'/>")
    if own is not None:
        # A mark on each group's bar line, never across the group labels.
        parts += [
            f"<line x1='{x(own):.1f}' x2='{x(own):.1f}' y1='{top + ROW * i + 13}' y2='{top + ROW * i + 30}'"
            f" stroke='{MEMBER_COLOR}' stroke-width='2'/>"
            for i in range(len(groups))
        ]
        text = f"{_('Your value')}: {format_number(own, label.lang)} {kpi.unit}"
        anchor = "end" if x(own) > WIDTH / 2 else "start"
        parts.append(
            f"<text class='label' x='{x(own):.1f}' y='14' font-size='11' text-anchor='{anchor}'"
            f" fill='{MEMBER_COLOR}'>{escape(text)}</text>"
        )
    title = _("Your value among your groups (bar: minimum to maximum; mark: median)")
    return (
        f"<figure class='profile-chart'><svg class='chart position' role='img' width='{WIDTH}' height='{height}'"
        f" viewBox='0 0 {WIDTH} {height}'><title>{escape(title)}</title>{''.join(parts)}</svg>"
        f"<figcaption class='note'>{escape(title)}</figcaption></figure>"
    )


def trend_chart(entry: dict, kpi: KpiSpec, label: Labeller) -> str:
    """The member's own value in each cycle (earlier ones, then this one); a dashed line before a cycle whose
    value is not comparable with the one before it, and no line joining the two."""
    _ = label._
    points = [*entry["history"], {"cycle": None, "value": entry["value"], "status": entry["status"]}]
    points[-1]["comparable_with_previous"] = (entry.get("previous") or {}).get("comparable")
    points[-1]["cycle"] = label.ctx.cycle
    values = [p["value"] for p in points if p["status"] == "reported" and p["value"] is not None]
    if not values:
        return ""
    step = (WIDTH - 120) / max(len(points) - 1, 1)
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    height = 150

    def at(i: int, v: float) -> tuple[float, float]:
        return 60 + step * i, 110 - 70 * (v - low) / span

    parts, previous = [], None
    for i, p in enumerate(points):
        cx = 60 + step * i
        parts.append(
            f"<text class='label' x='{cx:.1f}' y='{height - 8}' font-size='11' text-anchor='middle'>"
            f"{escape(p['cycle'])}</text>"
        )
        broken = p.get("comparable_with_previous") is False
        if broken:
            bx = cx - step / 2
            parts.append(
                f"<line x1='{bx:.1f}' x2='{bx:.1f}' y1='14' y2='{height - 24}' stroke='{BREAK_COLOR}'"
                " stroke-dasharray='4 3'/>"
            )
            parts.append(
                f"<text class='label' x='{bx:.1f}' y='11' font-size='10' text-anchor='middle' fill='{BREAK_COLOR}'>"
                f"{escape(_('break: definition changed'))}</text>"
            )
        if p["status"] != "reported" or p["value"] is None:
            previous = None
            continue
        px, py = at(i, p["value"])
        if previous is not None and not broken:
            parts.append(
                f"<line x1='{previous[0]:.1f}' y1='{previous[1]:.1f}' x2='{px:.1f}' y2='{py:.1f}'"
                f" stroke='{MEMBER_COLOR}' stroke-width='2'/>"
            )
        parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='4' fill='{MEMBER_COLOR}'/>")
        parts.append(
            f"<text class='label' x='{px:.1f}' y='{py - 8:.1f}' font-size='11' text-anchor='middle'>"
            f"{escape(format_number(p['value'], label.lang))}</text>"
        )
        previous = (px, py)
    title = _("Your value across cycles ({unit})").format(unit=kpi.unit)
    return (
        f"<figure class='profile-chart'><svg class='chart trend' role='img' width='{WIDTH}' height='{height}'"
        f" viewBox='0 0 {WIDTH} {height}'><title>{escape(title)}</title>{''.join(parts)}</svg>"
        f"<figcaption class='note'>{escape(title)}</figcaption></figure>"
    )
