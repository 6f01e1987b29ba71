"""The facts disclosure control works from: each series' reporting members, values, groups and earlier releases."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pmm_pipeline.core.vocabulary import DEFAULT_DISCLOSURE, TIERS
from pmm_pipeline.warehouse.tables import ROLLUPS

# The secretariat sees every value, so only the lower tiers have readers to protect values from.
AUDITED_TIERS = TIERS[:-1]
NUMERIC_STATISTICS = ("mean", "median", "min", "max", "pooled")
LINEAR_STATISTICS = ("mean", "pooled")
ORDER_STATISTICS = ("median", "min", "max")
LEVEL_COUNTS = "level_counts"  # a categorical group row's n_reporting and mean (its count and share)
GroupKey = tuple[str, str]  # (group_type, group_code)
VALUE = "value"  # the statistic of a withheld member value: group ("member", member code)
MEMBER_ROW = "member"


def tier_rank(tier: str) -> int:
    return TIERS.index(tier)


def visible_in(disclosure: str | None, tier: str) -> bool:
    """Whether a value with this disclosure choice may appear in `tier` (unknown or missing = secretariat)."""
    choice = disclosure if disclosure in TIERS else DEFAULT_DISCLOSURE
    return tier_rank(tier) >= tier_rank(choice)


@dataclass(frozen=True)
class Reporter:
    """One member's reported value of one KPI series."""

    member_code: str
    disclosure: str
    value: float
    level: str | None = None


@dataclass(frozen=True)
class EarlierRelease:
    """What one earlier release of a series (this cycle's or another cycle's of the same reporting year) gave the
    readers of one tier: linear equations over the members' values in force at that release.

    A value is a variable identified by (member, KPI, series, reporting year, value): a member whose value is
    the same in two releases contributes the same variable to both; a corrected value is a new variable.
    """

    tier: str
    values: Mapping[str, tuple[float, str | None, str]]  # member -> (value, level, disclosure) at that release
    shown: frozenset[str]  # members whose value that tier's kpi_values showed
    sums: tuple[tuple[str, ...], ...] = ()  # reporting members of each group whose mean or pooled ratio it showed
    counts: tuple[tuple[str, ...], ...] = ()  # categorical: reporting members of each group whose counts it showed

    def variable(self, member: str) -> tuple[str, object]:
        value, level, _ = self.values[member]
        return (member, level if level is not None else value)


@dataclass
class SeriesFacts:
    """Everything disclosure control needs about one KPI series of a cycle."""

    kpi_id: str
    series: str
    reporters: dict[str, Reporter]
    groups: dict[GroupKey, tuple[str, ...]]  # reporting members of each group
    statistics: dict[GroupKey, dict[str, float]] = field(default_factory=dict)  # numeric: true, non-null
    levels: tuple[str, ...] | None = None  # categorical KPIs: the level codes
    history: tuple[EarlierRelease, ...] = ()  # every earlier release of the series, of every tier

    def variable(self, member: str) -> tuple[str, object]:
        """The variable of a member's value in force now (see EarlierRelease)."""
        reporter = self.reporters[member]
        return (member, reporter.level if self.is_categorical else reporter.value)

    @property
    def is_categorical(self) -> bool:
        return self.levels is not None

    def rollup_series(self, level: str) -> str:
        """The `series` of a categorical level row in rollup.rollups (see stages/rollups/compute.py)."""
        return level if self.series == "total" else f"{self.series}:{level}"

    def hidden(self, tier: str) -> list[str]:
        return sorted(m for m, r in self.reporters.items() if not visible_in(r.disclosure, tier))

    def holders(self, group: GroupKey, statistic: str) -> set[str]:
        """Members whose value the order statistic of the group is (every member tied with it)."""
        ranked = sorted((self.reporters[m].value, m) for m in self.groups[group])
        if not ranked:
            return set()
        n = len(ranked)
        if statistic == "min":
            targets = {ranked[0][0]}
        elif statistic == "max":
            targets = {ranked[-1][0]}
        elif n % 2:
            targets = {ranked[n // 2][0]}
        else:  # an even median is the mean of the two middle values: both are exposed
            targets = {ranked[n // 2 - 1][0], ranked[n // 2][0]}
        return {m for v, m in ranked if v in targets}


def split_level_series(kpi_series: str) -> tuple[str, str]:
    """(KPI series, level) of a categorical rollup row's `series` (`level` or `series:level`)."""
    series, _, level = kpi_series.rpartition(":")
    return (series or "total"), level


def load_series_facts(
    values: pd.DataFrame,
    memberships: pd.DataFrame,
    rollups: pd.DataFrame,
    levels: Mapping[str, Sequence[str]],
) -> list[SeriesFacts]:
    """One SeriesFacts per KPI series of the cycle.

    `values`: kpi.kpi_values rows of the cycle; `memberships`: (member_code, group_type, group_code)
    of participating members; `rollups`: rollup.rollups rows (the true statistics); `levels`:
    categorical KPI id -> its level codes.
    """
    members_of: dict[GroupKey, set[str]] = {}
    for member, group_type, group_code in memberships[["member_code", "group_type", "group_code"]].itertuples(
        index=False
    ):
        members_of.setdefault((group_type, group_code), set()).add(member)

    stats_of: dict[tuple[str, str], dict[GroupKey, dict[str, float]]] = {}
    numeric_rollups = rollups[~rollups["kpi_id"].isin(list(levels))]
    for row in numeric_rollups.to_dict("records"):
        stats = {s: float(row[s]) for s in NUMERIC_STATISTICS if is_number(row[s])}
        stats_of.setdefault((row["kpi_id"], row["series"]), {})[(row["group_type"], row["group_code"])] = stats
    # The groups a categorical series has rows for. A group can have participants and no row at all (its
    # only members were blocked by the quality gate, so they have no KPI values): such a group has
    # nothing to publish or withhold, so decisions are taken only over the rows that exist.
    level_groups: dict[tuple[str, str], set[GroupKey]] = {}
    for kpi_id, row_series, group_type, group_code in rollups.loc[
        rollups["kpi_id"].isin(list(levels)), ROLLUPS.key_in_cycle
    ].itertuples(index=False):
        level_groups.setdefault((kpi_id, split_level_series(str(row_series))[0]), set()).add((group_type, group_code))

    facts = []
    for (kpi_id, series), rows in values.groupby(["kpi_id", "series"], sort=True):
        reporters = {
            r["member_code"]: Reporter(
                member_code=r["member_code"],
                disclosure=r["disclosure"],
                value=float(r["value"]),
                level=r.get("level_code") if isinstance(r.get("level_code"), str) else None,
            )
            for r in rows[rows["status"] == "reported"].to_dict("records")
        }
        kpi_levels = tuple(levels[kpi_id]) if kpi_id in levels else None
        statistics = {} if kpi_levels else stats_of.get((kpi_id, series), {})
        group_keys = sorted(level_groups.get((kpi_id, series), set())) if kpi_levels else sorted(statistics)
        groups = {g: tuple(sorted(members_of.get(g, set()) & reporters.keys())) for g in group_keys}
        facts.append(SeriesFacts(kpi_id, series, reporters, groups, statistics, kpi_levels))
    return facts


def is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and bool(np.isfinite(value))
