"""Each participating member's profile: its own values beside the `wco` tier's figures of every group it belongs to.

`published/<cycle>/profiles/<member>/profile.json` and `profile_<lang>.html` (the member's questionnaire
language and English), with `published/<cycle>/profiles/manifest.json` over every file. Disclosure-safe
by construction: a profile holds the member's own rows of the cycle's values and, for the groups it
belongs to, the rows of the `wco` tier's released rollups copied as they are (a statistic withheld
there is null here, with its reason). A member is a WCO-level reader, so a profile shows nothing about
another member that the `wco` tier does not show. The folder is built aside and read back before it
is switched in (folders.py): each profile is checked against those same inputs.
"""

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.vocabulary import GROUP_TYPES, LANGUAGES
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.folders import check_listed, write_folder
from pmm_pipeline.stages.publishing.formats import STATUS_LABELS, json_ready
from pmm_pipeline.stages.publishing.i18n import N_, translator
from pmm_pipeline.stages.publishing.labels import DIMENSION_NAMES, Labeller, ReportContext, format_number
from pmm_pipeline.stages.publishing.profile_charts import position_chart, trend_chart
from pmm_pipeline.stages.publishing.report import CSS

PROFILES_FOLDER = "profiles"
PROFILE_FILE = "profile.json"
GROUP_STATISTICS = ("n_reporting", "n_participating", "mean", "median", "min", "max")
PROFILE_FORMAT = "pmm-member-profile"
CODE_WORD = re.compile(r"\b[A-Z]{3}\b")  # how a member code would show in a page
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


def profile_html(lang: str) -> str:
    return f"profile_{lang}.html"


def profile_languages(member_language: str) -> tuple[str, ...]:
    """The member's questionnaire language and English, English first."""
    return tuple(lang for lang in LANGUAGES if lang in ("en", member_language))


@dataclass(frozen=True)
class ProfileInputs:
    """What the profiles of one cycle are built from, each already read back from where it was published."""

    cycle: str
    reporting_year: int
    kpis: Sequence[KpiSpec]
    values: pd.DataFrame  # the cycle's kpi values (kpi.kpi_values): each profile takes its member's rows only
    wco_rollups: pd.DataFrame  # the rollups of the released wco tier, as its readers get them
    memberships: pd.DataFrame  # member_code, group_type, group_code of every participant
    languages: Mapping[str, str]  # member -> questionnaire language
    group_names: Mapping[tuple[str, str], Mapping[str, str]]
    member_names: Mapping[str, Mapping[str, str]]
    min_group_size: int
    definitions: Mapping[str, str] = field(default_factory=dict)  # kpi -> definition digest (definitions.py)
    previous: Mapping[str, dict] = field(default_factory=dict)  # member -> its profile of the previous cycle
    previous_definitions: Mapping[str, str] = field(default_factory=dict)
    # The hook for members' targets: (member, kpi, series) -> the value the member set itself. No input carries
    # targets yet (neither the submission format nor the platform); when one does, it fills this and the profiles
    # show them. Never filled from anything but the member's own statement.
    targets: Mapping[tuple[str, str, str], float] = field(default_factory=dict)

    @cached_property
    def index(self) -> "_Indexed":
        return _Indexed(self)


def _withheld(reason: object) -> dict[str, str]:
    if not isinstance(reason, str) or not reason:
        return {}
    return dict(entry.split(":", 1) for entry in reason.split(";") if ":" in entry)


def _group_entry(row: Mapping, level: str | None = None) -> dict:
    entry = {"group_type": row["group_type"], "group_code": row["group_code"]}
    if level is not None:
        entry["level"] = level
    entry |= {s: json_ready(row[s]) for s in GROUP_STATISTICS}
    entry["withheld"] = _withheld(row["suppression_reason"])
    return entry


def _levels(kpi: KpiSpec) -> list[tuple[str, float]]:
    return [(lv.code, lv.score) for item in kpi.items for lv in item.answer_levels]


class _Indexed:
    """The inputs looked up by key once, so that each profile costs dictionary look-ups, not table scans."""

    def __init__(self, inputs: ProfileInputs):
        self.rollups: dict[tuple, list[dict]] = {}  # (kpi, series) -> rows, each group of the wco tier
        for row in inputs.wco_rollups.to_dict("records"):
            self.rollups.setdefault((row["kpi_id"], row["series"]), []).append(row)
        self.values: dict[tuple[str, str], list[dict]] = {}  # (member, kpi) -> its rows, by series
        for row in inputs.values.sort_values(["member_code", "kpi_id", "series"]).to_dict("records"):
            self.values.setdefault((row["member_code"], row["kpi_id"]), []).append(row)
        self.groups: dict[str, set[tuple[str, str]]] = {}
        for m, g, c in zip(*(inputs.memberships[k] for k in ("member_code", "group_type", "group_code")), strict=True):
            self.groups.setdefault(m, set()).add((g, c))


def build_profile(member: str, inputs: ProfileInputs) -> dict:
    """The profile document of one member (what profile.json holds)."""
    index = inputs.index
    mine = index.groups.get(member, set())
    order = {g: i for i, g in enumerate(GROUP_TYPES)}
    previous = {(e["kpi_id"], e["series"]): e for e in inputs.previous.get(member, {}).get("kpis", [])}
    previous_cycle = inputs.previous.get(member, {}).get("cycle")
    entries = []
    for kpi in sorted(inputs.kpis, key=lambda k: (k.dimension, k.id)):
        for row in index.values.get((member, kpi.id), []):
            entry = {
                "kpi_id": kpi.id,
                "series": row["series"],
                "dimension": kpi.dimension,
                "unit": kpi.unit,
                "value": json_ready(row["value"]),
                "status": row["status"],
                "disclosure": row["disclosure"],
            }
            if kpi.shape == Shape.categorical:
                levels = _levels(kpi)
                entry["level"] = next((c for c, s in levels if s == entry["value"]), None)
                candidates = [(r, code) for code, _ in levels for r in index.rollups.get((kpi.id, code), [])]
            else:
                candidates = [(r, None) for r in index.rollups.get((kpi.id, row["series"]), [])]
            rows = [(r, level) for r, level in candidates if (r["group_type"], r["group_code"]) in mine]
            rows.sort(key=lambda p: (order.get(p[0]["group_type"], 9), p[0]["group_code"], p[1] or ""))
            entry["groups"] = [_group_entry(r, level) for r, level in rows]
            before = previous.get((kpi.id, row["series"]))
            entry["previous"] = _previous(kpi, entry, before, previous_cycle, inputs)
            entry["history"] = _history(before, previous_cycle)
            entry["target"] = inputs.targets.get((member, kpi.id, row["series"]))
            entries.append(entry)
    return {
        "format": PROFILE_FORMAT,
        "format_version": 1,
        "cycle": inputs.cycle,
        "reporting_year": inputs.reporting_year,
        "member_code": member,
        "language": inputs.languages.get(member, "en"),
        "groups": [
            {"group_type": g, "group_code": c} for g, c in sorted(mine, key=lambda p: (order.get(p[0], 9), p[1]))
        ],
        "source": {"groups": "wco tier rollups", "values": "the member's own values"},
        "kpis": entries,
    }


def _previous(kpi: KpiSpec, entry: dict, before: dict | None, cycle: str | None, inputs: ProfileInputs) -> dict | None:
    """The member's own value in its previous profile, and the change where the KPI's definition is unchanged."""
    if before is None:
        return None
    old, new = inputs.previous_definitions.get(kpi.id), inputs.definitions.get(kpi.id)
    comparable = old is not None and old == new
    change = None
    if (
        comparable
        and kpi.shape != Shape.categorical
        and entry["status"] == before.get("status") == "reported"
        and entry["value"] is not None
        and before.get("value") is not None
    ):
        change = entry["value"] - before["value"]
    return {
        "cycle": cycle,
        "value": before.get("value"),
        "status": before.get("status"),
        "comparable": comparable,
        "change": change,
    }


def _history(before: dict | None, cycle: str | None) -> list[dict]:
    """The member's own value in each earlier cycle, oldest first, each marked comparable (or not, or None: no
    cycle before it) with the one before: the previous profile's history and its own value."""
    if before is None:
        return []
    earlier = before.get("previous") or {}
    return [
        *before.get("history", []),
        {
            "cycle": cycle,
            "value": before.get("value"),
            "status": before.get("status"),
            "comparable_with_previous": earlier.get("comparable"),
        },
    ]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


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


def write_profiles(profiles_dir: Path, token: str, members: Sequence[str], inputs: ProfileInputs, header: dict) -> dict:
    """Every member's profile, built aside, checked against `inputs` and switched in; returns the manifest."""
    documents = {m: build_profile(m, inputs) for m in sorted(members)}

    def write(folder: Path) -> dict[str, int]:
        rows: dict[str, int] = {}
        for member, document in documents.items():
            (folder / member).mkdir()
            name = f"{member}/{PROFILE_FILE}"
            (folder / name).write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
            rows[name] = len(document["kpis"])
            for lang in profile_languages(document["language"]):
                page = f"{member}/{profile_html(lang)}"
                (folder / page).write_text(render_profile(document, lang, inputs), encoding="utf-8")
                rows[page] = len(document["kpis"])
        return rows

    return write_folder(profiles_dir, token, write, header, verify=lambda built: check_profiles(built, inputs, members))


def check_profiles(folder: Path, inputs: ProfileInputs, members: Sequence[str]) -> list[str]:
    """What is amiss in a profiles folder: its listing, and any profile that is not its member's own values
    beside the wco tier's rollups exactly, or whose pages name another participant."""
    _, problems = check_listed(folder)
    present = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if present != sorted(members):
        problems.append(f"{folder}: profiles of {present}, expected {sorted(members)}")
    # Any member the pipeline knows of (in force, participating or with values), not only this cycle's participants.
    others = set(inputs.memberships.member_code) | set(inputs.values.member_code) | set(inputs.member_names)
    for member in present:
        try:
            document = json.loads((folder / member / PROFILE_FILE).read_text())
        except (OSError, ValueError) as err:
            problems.append(f"{folder / member / PROFILE_FILE}: cannot be read back ({err})")
            continue
        if document != build_profile(member, inputs):
            problems.append(f"{folder / member / PROFILE_FILE}: not the member's values beside the wco tier's figures")
        for page in sorted((folder / member).glob("profile_*.html")):
            named = (set(CODE_WORD.findall(page.read_text(encoding="utf-8"))) & others) - {member}
            if named:
                problems.append(f"{page}: names other members {sorted(named)}")
    return problems


def member_profile(published_dir: Path, member: str) -> dict | None:
    """A member's published profile document for one cycle (`published_dir` = published/<cycle>), or None when it
    has none. Raises ValueError when the profiles folder does not read back as its manifest lists it."""
    folder = published_dir / PROFILES_FOLDER
    path = folder / member / PROFILE_FILE
    if not path.is_file() or member in ("", ".", "..") or "/" in member:
        return None
    manifest, problems = check_listed(folder)
    if problems:
        raise ValueError(f"{folder} does not read back as published: {problems[0]}")
    document = json.loads(path.read_text())
    if document.get("format") != PROFILE_FORMAT or document.get("member_code") != member:
        raise ValueError(f"{path} is not {member}'s profile")
    return document


def member_profile_page(published_dir: Path, member: str, lang: str) -> Path | None:
    """The member's profile page in `lang` for one cycle, falling back to English (a profile is written in the
    member's language and English); None when it has no profile. Checked like member_profile."""
    document = member_profile(published_dir, member)
    if document is None:
        return None
    folder = published_dir / PROFILES_FOLDER / member
    for candidate in (lang, "en"):
        if candidate in LANGUAGES and (folder / profile_html(candidate)).is_file():
            return folder / profile_html(candidate)
    return None
