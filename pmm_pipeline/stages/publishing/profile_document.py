"""A member profile as a document (what profile.json holds): the member's own values of the cycle, each beside the
`wco` tier's released rollup rows of the groups it belongs to, its previous cycles' values and its target.
Written, checked and read back by profiles.py; shown as a page by profile_page.py."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from pmm_pipeline.core.vocabulary import GROUP_TYPES
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.publishing.formats import json_ready

GROUP_STATISTICS = ("n_reporting", "n_participating", "mean", "median", "min", "max")
PROFILE_FORMAT = "pmm-member-profile"


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
