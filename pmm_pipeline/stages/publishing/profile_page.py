"""A member profile as one HTML page in a language (no script: it opens anywhere and prints as it shows): per KPI
the member's value and status, its previous cycle and target, the charts, and its groups' figures."""

from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS
from pmm_pipeline.stages.publishing.i18n import N_, translator
from pmm_pipeline.stages.publishing.labels import DIMENSION_NAMES, Labeller, ReportContext, format_number
from pmm_pipeline.stages.publishing.labels import escape as _e
from pmm_pipeline.stages.publishing.profile_charts import position_chart, trend_chart
from pmm_pipeline.stages.publishing.profile_document import ProfileInputs
from pmm_pipeline.stages.publishing.report import CSS

STATUS_EXPLAINED = {
    "reported": N_("your administration reported this value"),
    "not_applicable": N_("your administration declared this KPI not applicable"),
    "missing": N_("no value: an answer it needs was not given or not available"),
    "undefined": N_("no value: its denominator was zero"),
}
INLINE_TEXTS = (
    N_("Profile of {member}: PMM cycle {cycle}"),
    N_("Your value"),
    N_("Status"),
    N_("Groups your administration is compared with"),
    N_("answer"),
    N_("Your target"),
)


def render_profile(document: dict, lang: str, inputs: ProfileInputs) -> str:
    """The profile as one HTML page in `lang` (no script: it opens anywhere and prints as it shows)."""
    ctx = ReportContext(
        cycle=inputs.cycle,
        reporting_year=inputs.reporting_year,
        tier="wco",
        kpis=inputs.kpis,
        group_names=inputs.group_names,
        min_group_size=inputs.min_group_size,
        completeness=None,
        lang=lang,
        member_names=inputs.member_names,
    )
    label = Labeller(ctx)
    _ = translator(lang)
    kpis = {k.id: k for k in inputs.kpis}
    member = document["member_code"]
    name = label.member(member)
    memberships = "; ".join(
        f"{label.group_type(g['group_type'])}: {label.group(g['group_type'], g['group_code'])}"
        for g in document["groups"]
        if g["group_type"] != "global"
    )
    parts, dimension = [], None
    for entry in document["kpis"]:
        kpi = kpis[entry["kpi_id"]]
        if kpi.dimension != dimension:
            dimension = kpi.dimension
            parts.append(f"<h2>{_e(_(DIMENSION_NAMES[dimension]))}</h2>")
        parts.append(_kpi_section(entry, kpi, label))
    intro = _(
        "Your administration's values for reporting year {year}, beside the groups it belongs to. Group figures"
        " are those published to the WCO tier: a figure withheld there is withheld here, with its reason."
    ).format(year=inputs.reporting_year)
    title = _("Profile of {member}: PMM cycle {cycle}").format(member=name, cycle=inputs.cycle)
    return f"""<!DOCTYPE html>
<html lang="{_e(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
</head><body>
<h1>{_e(title)}</h1>
<p>{_e(intro)}</p>
<p>{_e(_("Groups your administration is compared with"))}: {_e(memberships)}</p>
{"".join(parts)}
</body></html>
"""


def _kpi_section(entry: dict, kpi: KpiSpec, label: Labeller) -> str:
    _ = label._
    lang = label.lang
    categorical = kpi.shape == Shape.categorical
    heading = (
        label.kpi(kpi) if entry["series"] == "total" else f"{label.kpi(kpi)}: {label.series(kpi, entry['series'])}"
    )
    status = f"{STATUS_LABELS[lang].get(entry['status'], entry['status'])} ({_(STATUS_EXPLAINED[entry['status']])})"
    if entry["status"] == "reported" and categorical:
        shown = label.level_of_score(kpi, entry["value"]) or format_number(entry["value"], lang)
    elif entry["status"] == "reported":
        shown = f"{format_number(entry['value'], lang)} {kpi.unit}"
    else:
        shown = "—"
    lines = [
        f"<p><strong>{_e(_('Your value'))}:</strong> {_e(shown)}. <strong>{_e(_('Status'))}:</strong> {_e(status)}</p>"
    ]
    before = entry.get("previous")
    if before is not None:
        if not before["comparable"]:
            text = _("Cycle {cycle}: not comparable, the KPI's definition changed since then.").format(
                cycle=before["cycle"]
            )
        elif before["change"] is not None:
            text = _("Cycle {cycle}: {value} {unit}; change since then: {change}.").format(
                cycle=before["cycle"],
                value=format_number(before["value"], lang),
                unit=kpi.unit,
                change=("+" if before["change"] > 0 else "") + format_number(before["change"], lang),
            )
        else:
            text = _("Cycle {cycle}: {status}.").format(
                cycle=before["cycle"], status=STATUS_LABELS[lang].get(before["status"], before["status"])
            )
        lines.append(f"<p>{_e(text)}</p>")
    target = entry.get("target")
    if target is not None:
        target_text = label.level_of_score(kpi, target) if categorical else None
        target_text = target_text or f"{format_number(target, lang)} {kpi.unit}"
        lines.append(f"<p><strong>{_e(_('Your target'))}:</strong> {_e(target_text)}</p>")
    if not categorical:
        lines.append(position_chart(entry, kpi, label))
    if entry.get("history"):
        lines.append(trend_chart(entry, kpi, label))
    stats = ("mean",) if categorical else ("mean", "median", "min", "max")
    head = [_("group type"), _("group")] + ([_("answer")] if categorical else []) + [_("n of N")]
    head += [_("share (%)")] if categorical else [_(s) for s in ("mean", "median", "minimum", "maximum")]
    head.append(_("withheld, and why"))
    answered: dict[tuple[str, str], int | None] = {}  # a level share's denominator: the group's members answering
    for g in entry["groups"] if categorical else ():
        key, before = (g["group_type"], g["group_code"]), answered.get((g["group_type"], g["group_code"]), 0)
        answered[key] = None if before is None or g["n_reporting"] is None else before + int(g["n_reporting"])
    rows = []
    for g in entry["groups"]:
        n = "?" if g["n_reporting"] is None else format_number(g["n_reporting"], lang, 0)
        if categorical:
            of = answered[(g["group_type"], g["group_code"])]
            n_of_n = _("{n} of {answering} answering").format(
                n=n, answering="?" if of is None else format_number(of, lang, 0)
            )
        else:
            n_of_n = _("{n} of {total}").format(n=n, total=format_number(g["n_participating"], lang, 0))
        reasons = ";".join(f"{s}:{r}" for s, r in g["withheld"].items())
        cells = [label.group_type(g["group_type"]), label.group(g["group_type"], g["group_code"])]
        if categorical:
            cells.append(label.series(kpi, g["level"]))
        rows.append(
            "<tr>"
            + "".join(f"<td>{_e(c)}</td>" for c in cells)
            + f"<td class='num'>{_e(n_of_n)}</td>"
            + "".join(f"<td class='num'>{format_number(g[s], lang)}</td>" for s in stats)
            + f"<td>{_e(label.reasons(reasons))}</td></tr>"
        )
    table = "<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"
    return (
        f"<section class='kpi' id='{_e(kpi.id)}-{_e(entry['series'])}'><h3>{_e(heading)}</h3>"
        + "".join(lines)
        + (table if rows else "")
        + "</section>"
    )
