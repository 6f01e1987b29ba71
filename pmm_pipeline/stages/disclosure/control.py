"""Disclosure control of a cycle's release: what each tier may show, and the audit that proves nothing hidden leaks.

Tiers are nested, `public` ⊂ `wco` ⊂ `secretariat`, and the readers of a tier also read every lower
tier. A member's KPI value appears in a tier only if its disclosure choice allows it (a KPI left out
is `secretariat`); hidden members' rows are left out entirely, so neither their value nor their
status (not_applicable, missing, undefined) nor their flags can show.

Group statistics are the true statistics over all members (rollup.rollups). A statistic is withheld
from a tier, with the reason in `suppression_reason`, when:
- `min_group_size`: the group has fewer contributing (reporting) members than the policy minimum;
- `hidden_member`: it is an order statistic (min, max, median) whose value belongs to a member
  hidden in the tier (a tie with a hidden member counts: the value is the hidden member's too);
- `differencing`: it is a mean, a pooled ratio or a categorical level count that, with the values
  visible in the tier (and a member's knowledge of its own value), reveals a hidden value;
- `complementary`: it is withheld because, combined with the other figures the tier's readers see
  (its own and the lower tiers'), it would let them solve for a hidden value.

The reader modelled knows: which members belong to each group and which reported each KPI
(n_reporting is published), every value visible in its tier, every published figure of its tier and
of the lower tiers, a-priori bounds on the values as tight as the series' true range, and may be a
member knowing its own hidden value. A hidden value is disclosed when it is the same in every
assignment of hidden values consistent with all that. A mean gives the sum of the group's values, a
pooled ratio the sums of its numerators and denominators over the same members: linear equations
over hidden answers, solved by rank (a value is determined iff its unit vector lies in the row
space). Bounds are checked by linear programming on the cone of feasible directions, categorical
level counts by integer programming (is there another assignment of levels giving the same counts?).

This module decides what each tier withholds; the facts it works from are in facts.py, what a reader can
solve for in value_solving.py and level_solving.py, the tiers' tables in tiers.py and the audit of built
releases in audit.py.
Everything here is plain functions over DataFrames and numpy arrays; the assets wire it to Dagster.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.facts import (
    AUDITED_TIERS,
    LEVEL_COUNTS,
    LINEAR_STATISTICS,
    MEMBER_ROW,
    ORDER_STATISTICS,
    VALUE,
    GroupKey,
    SeriesFacts,
    tier_rank,
    visible_in,
)
from pmm_pipeline.stages.disclosure.level_solving import LevelCount, solvable_levels
from pmm_pipeline.stages.disclosure.value_solving import solvable_values, solved_by_equations

MIN_GROUP_SIZE = "min_group_size"
HIDDEN_MEMBER = "hidden_member"
DIFFERENCING = "differencing"
COMPLEMENTARY = "complementary"
EARLIER_RELEASE = "earlier_release"
NOT_FINITE = "not_finite"  # set by the rollups themselves (stages/rollups/compute.py), never by disclosure control
REASONS = (MIN_GROUP_SIZE, HIDDEN_MEMBER, DIFFERENCING, COMPLEMENTARY, EARLIER_RELEASE, NOT_FINITE)
# When a figure must go to stop a combination, the least useful goes first: pooled ratios, then
# means of the groupings in this order; regional and global means are kept as long as possible.
KEEP_ORDER = ("admin_type", "landlocked", "income_group", "region", "global")


@dataclass(frozen=True)
class Withheld:
    """One statistic of one rollup row withheld from one tier, and why."""

    tier: str
    kpi_id: str
    series: str  # as in rollup.rollups (for categorical KPIs, the level row)
    group_type: str
    group_code: str
    statistic: str
    reason: str


class _Decisions:
    """Withheld (tier, group, statistic) of one series; the first reason given is kept."""

    def __init__(self) -> None:
        self.reasons: dict[tuple[str, GroupKey, str], str] = {}

    def withhold(self, tier: str, group: GroupKey, statistic: str, reason: str) -> None:
        self.reasons.setdefault((tier, group, statistic), reason)

    def published(self, tier: str, group: GroupKey, statistic: str) -> bool:
        return (tier, group, statistic) not in self.reasons

    def seen_by(self, tier: str, group: GroupKey, statistic: str) -> bool:
        """Published in `tier` or in a tier below it (whose files its readers also read)."""
        return any(self.published(t, group, statistic) for t in TIERS[: tier_rank(tier) + 1])

    def withhold_up_to(self, tier: str, group: GroupKey, statistic: str, reason: str) -> None:
        for t in TIERS[: tier_rank(tier) + 1]:
            if self.published(t, group, statistic):
                self.withhold(t, group, statistic, reason)


def _keep_rank(group: GroupKey) -> int:
    return KEEP_ORDER.index(group[0]) + 1 if group[0] in KEEP_ORDER else 0


def _member_key(member: str) -> GroupKey:
    return (MEMBER_ROW, member)


def withheld_values(decisions: "_Decisions", tier: str) -> set[str]:
    return {g[1] for (t, g, s) in decisions.reasons if t == tier and s == VALUE}


class _Unknowns:
    """The values a tier's readers do not know, over the release being decided and every earlier one.

    A reader of `audience` knows every value shown by its tier and the lower tiers, now (`shown`, by
    default every member whose choice allows the tier) or in an earlier release: such a variable is a
    constant, whatever the member's choice is now (a release cannot be taken back). Every other
    variable is a column; it is a target (must not be determined) when the member's choice hid it from
    the tier, now or at an earlier release. `owners` is the member of each column: a member knows all
    its own values (a coalition member knows its old and its corrected value).
    """

    def __init__(self, facts: SeriesFacts, audience: str, shown: Iterable[str] | None, history: bool):
        if shown is None:
            shown = [m for m, r in facts.reporters.items() if visible_in(r.disclosure, audience)]
        self.earlier = [r for r in facts.history if tier_rank(r.tier) <= tier_rank(audience)] if history else []
        known = {r.variable(m) for r in self.earlier for m in r.shown if m in r.values}
        known |= {facts.variable(m) for m in shown if m in facts.reporters}
        self.index: dict[tuple[str, object], int] = {}
        self.labels: list[str] = []
        self.values: list[float] = []
        self.levels: list[int] = []
        targets: list[bool] = []

        def column(variable: tuple[str, object], value: float, disclosure: str) -> int | None:
            if variable in known:
                return None
            if variable not in self.index:
                self.index[variable] = len(self.labels)
                self.labels.append(variable[0])
                self.values.append(value)
                if facts.levels is not None:
                    self.levels.append(facts.levels.index(variable[1]) if variable[1] in facts.levels else 0)
                targets.append(False)
            position = self.index[variable]
            targets[position] = targets[position] or not visible_in(disclosure, audience)
            return position

        self.current = {m: column(facts.variable(m), r.value, r.disclosure) for m, r in sorted(facts.reporters.items())}
        self.earlier_columns = [
            {m: column(r.variable(m), v, d) for m, (v, _, d) in sorted(r.values.items())} for r in self.earlier
        ]
        self.targets = np.array(targets, dtype=bool)
        member_ids = {m: i for i, m in enumerate(sorted(set(self.labels)))}
        self.owners = np.array([member_ids[m] for m in self.labels], dtype=int)
        everything = [r.value for r in facts.reporters.values()] + [
            v for r in self.earlier for v, _, _ in r.values.values()
        ]
        self.lower, self.upper = (min(everything), max(everything)) if everything else (0.0, 0.0)

    @property
    def size(self) -> int:
        return len(self.labels)

    def current_row(self, members: Iterable[str]) -> np.ndarray:
        row = np.zeros(self.size)
        row[[c for m in members if (c := self.current.get(m)) is not None]] = 1.0
        return row

    def earlier_rows(self) -> np.ndarray:
        rows = []
        for release, columns in zip(self.earlier, self.earlier_columns, strict=True):
            for members in release.sums:
                row = np.zeros(self.size)
                row[[c for m in members if (c := columns.get(m)) is not None]] = 1.0
                rows.append(row)
        return np.array(rows).reshape(len(rows), self.size)


class NumericSystem:
    """The linear equations that a series' published means and pooled ratios make over the unknown values.

    A group's mean gives the sum of its members' values; its pooled ratio gives the sums of their
    numerators and denominators. Either way a reader learns a sum over the group's unknown
    reporters, so a group is one equation (one row of indicators), published if either figure is.
    Denominators are not assumed known to the reader: they are members' answers, never published.
    With `history`, the equations of every earlier release the tier's readers read are always there.
    """

    def __init__(
        self,
        facts: SeriesFacts,
        audience: str,
        coalition: int = 1,
        shown: Iterable[str] | None = None,
        history: bool = True,
    ):
        self.facts, self.coalition = facts, coalition
        self.unknowns = _Unknowns(facts, audience, shown, history)
        self.hidden = self.unknowns.labels
        self.values = np.array(self.unknowns.values, dtype=float)
        self.base = self.unknowns.earlier_rows()
        self._rows: dict[GroupKey, np.ndarray] = {}
        # Answers by (groups in order, with_bounds): the loops below ask the same again, e.g. a group's relief
        # one round is the next round's published set once that group is withheld.
        self._solved: dict[tuple[tuple[GroupKey, ...], bool], np.ndarray] = {}

    def row(self, group: GroupKey) -> np.ndarray:
        if group not in self._rows:
            self._rows[group] = self.unknowns.current_row(self.facts.groups[group])
        return self._rows[group]

    def solved(self, groups: Sequence[GroupKey], with_bounds: bool = True) -> np.ndarray:
        """The targets a reader (or coalition) determines from the earlier releases and these groups' figures."""
        key = (tuple(groups), with_bounds)
        if key not in self._solved:
            self._solved[key] = self._solve(key[0], with_bounds)
        return self._solved[key].copy()

    def _solve(self, groups: Sequence[GroupKey], with_bounds: bool) -> np.ndarray:
        n = self.unknowns.size
        if n == 0:
            return np.zeros(0, dtype=bool)
        rows = np.vstack([self.base, np.array([self.row(g) for g in groups]).reshape(len(groups), n)])
        owners = self.unknowns.owners
        if not with_bounds:
            solved = solved_by_equations(rows, owners, self.coalition)
        else:
            solved = solvable_values(
                rows, self.values, self.unknowns.lower, self.unknowns.upper, owners, self.coalition
            )
        return solved & self.unknowns.targets

    def solved_variables(self, groups: Sequence[GroupKey]) -> set[tuple[str, object]]:
        solved = self.solved(groups)
        return {v for v, i in self.unknowns.index.items() if solved[i]}


def _cheapest_to_withhold(system: NumericSystem, groups: list[GroupKey]) -> GroupKey:
    """The least useful group whose equation, withheld, protects some exposed value (else the least useful)."""
    for with_bounds in (False, True):  # the bound analysis is slower: only when equations alone do not tell
        exposed = int(system.solved(groups, with_bounds).sum())
        relief = {g: exposed - int(system.solved([e for e in groups if e != g], with_bounds).sum()) for g in groups}
        if max(relief.values()) > 0:
            break
    return min(groups, key=lambda g: (relief[g] <= 0, _keep_rank(g), -relief[g], g))


def _control_numeric(facts: SeriesFacts, min_group_size: int, coalition: int = 1) -> _Decisions:
    decisions = _Decisions()
    holders = functools.cache(facts.holders)  # the same for every tier
    for tier in TIERS:
        for group, stats in facts.statistics.items():
            if len(facts.groups[group]) < min_group_size:
                for statistic in stats:
                    decisions.withhold(tier, group, statistic, MIN_GROUP_SIZE)
                continue
            for statistic in ORDER_STATISTICS:
                if statistic in stats and not all(
                    visible_in(facts.reporters[m].disclosure, tier) for m in holders(group, statistic)
                ):
                    decisions.withhold(tier, group, statistic, HIDDEN_MEMBER)

    linear = {g: [s for s in LINEAR_STATISTICS if s in stats] for g, stats in sorted(facts.statistics.items())}
    linear = {g: stats for g, stats in linear.items() if stats}

    def seen(tier: str, group: GroupKey) -> bool:
        return any(decisions.seen_by(tier, group, s) for s in linear[group])

    def withhold(group: GroupKey, reason: str, up_to: str) -> None:
        for statistic in linear[group]:
            decisions.withhold_up_to(up_to, group, statistic, reason)

    # This release on its own first, exactly as if nothing had been released before: a re-run on the same
    # inputs then decides the same, and earlier releases can only ever withhold more (below).
    for tier in AUDITED_TIERS:
        system = NumericSystem(facts, tier, coalition, history=False)
        if not system.unknowns.targets.any():
            continue
        for group in linear:
            if seen(tier, group) and system.solved([group]).any():
                withhold(group, DIFFERENCING, tier)
        while True:
            published = [g for g in linear if seen(tier, g)]
            if not system.solved(published).any():
                break
            # Any published group may complete a combination (global minus the other groups of a
            # grouping involves groups that do not contain the exposed member at all).
            group = _cheapest_to_withhold(system, published)
            withhold(group, DIFFERENCING if system.solved([group]).any() else COMPLEMENTARY, tier)
    if facts.history:
        _control_over_time(
            facts,
            decisions,
            coalition,
            lambda tier: [g for g in linear if seen(tier, g)],
            lambda group, tier: withhold(group, EARLIER_RELEASE, tier),
            NumericSystem,
            _cheapest_to_withhold,
        )
    return decisions


def _control_over_time(facts, decisions, coalition, published_groups, withhold_group, system_class, cheapest):
    """Withhold from this release whatever, with every earlier release its readers hold, would determine a target.

    What the earlier releases determine on their own is past mending and not counted. A variable
    that earlier equations would determine once a value shown now is known (a member that chose a
    wider tier, whose value sits in an earlier sum with hidden ones) is protected by withholding that
    value from the tier (statistic `value`); otherwise the least useful group figure goes.
    """
    for tier in AUDITED_TIERS:
        while True:
            shown = {m for m, r in facts.reporters.items() if visible_in(r.disclosure, tier)}
            shown -= withheld_values(decisions, tier)
            system = system_class(facts, tier, coalition, shown)
            if system.unknowns.size == 0:
                break
            past = system_class(facts, tier, coalition, shown=[]).solved_variables([])
            groups = published_groups(tier)
            exposed = system.solved_variables(groups) - past
            if not exposed:
                break
            newly_shown = system.solved_variables([]) - past
            if newly_shown:  # the values shown now are the key: withhold the one that protects most
                earlier = {r.variable(m) for r in system.unknowns.earlier for m in r.shown if m in r.values}
                candidates = sorted(m for m in shown if facts.variable(m) not in earlier)

                def relief(
                    member: str, shown: set[str] = shown, tier: str = tier, newly_shown: set = newly_shown
                ) -> int:
                    fewer = system_class(facts, tier, coalition, shown - {member})
                    return len(newly_shown - fewer.solved_variables([]))

                member = min(candidates, key=lambda m: (-relief(m), m))
                for t in TIERS[: tier_rank(tier) + 1]:
                    decisions.withhold(t, _member_key(member), VALUE, EARLIER_RELEASE)
                continue
            withhold_group(cheapest(system, groups), tier)
    # An order statistic held by a withheld value would show it.
    for tier in AUDITED_TIERS:
        hidden_now = withheld_values(decisions, tier)
        if not hidden_now or facts.is_categorical:
            continue
        for group, stats in facts.statistics.items():
            for statistic in ORDER_STATISTICS:
                if statistic in stats and facts.holders(group, statistic) & hidden_now:
                    decisions.withhold(tier, group, statistic, HIDDEN_MEMBER)


class LevelSystem:
    """The level counts a series' published rows make over the unknown levels (categorical KPIs), with every
    earlier release's counts when `history` (see _Unknowns)."""

    def __init__(
        self,
        facts: SeriesFacts,
        audience: str,
        coalition: int = 1,
        shown: Iterable[str] | None = None,
        history: bool = True,
    ):
        assert facts.levels is not None
        self.facts, self.coalition = facts, coalition
        self.unknowns = _Unknowns(facts, audience, shown, history)
        self.hidden = self.unknowns.labels
        self.levels = np.array(self.unknowns.levels, dtype=int)
        self.base: list[LevelCount] = []
        for i, (release, columns) in enumerate(zip(self.unknowns.earlier, self.unknowns.earlier_columns, strict=True)):
            for j, members in enumerate(release.counts):
                cols = tuple(c for m in members if (c := columns.get(m)) is not None)
                if cols:
                    self.base += [LevelCount(("earlier", i, j), cols, lv) for lv in range(len(facts.levels))]

    def counts(self, groups: Iterable[GroupKey]) -> list[LevelCount]:
        assert self.facts.levels is not None
        out = list(self.base)
        for group in groups:
            members = tuple(c for m in self.facts.groups[group] if (c := self.unknowns.current.get(m)) is not None)
            if members:
                out += [LevelCount(group, members, lv) for lv in range(len(self.facts.levels))]
        return out

    def solved(
        self, groups: Iterable[GroupKey], among: Iterable[int] | None = None, found: list[frozenset[int]] | None = None
    ) -> np.ndarray:
        assert self.facts.levels is not None
        if self.unknowns.size == 0:
            return np.zeros(0, dtype=bool)
        solved = solvable_levels(
            self.counts(groups), self.levels, len(self.facts.levels), among, found, self.unknowns.owners, self.coalition
        )
        return solved & self.unknowns.targets

    def solved_variables(self, groups: Iterable[GroupKey]) -> set[tuple[str, object]]:
        solved = self.solved(list(groups))
        return {v for v, i in self.unknowns.index.items() if solved[i]}


def _control_categorical(facts: SeriesFacts, min_group_size: int, coalition: int = 1) -> _Decisions:
    assert facts.levels is not None
    decisions = _Decisions()
    for tier in TIERS:
        for group, members in facts.groups.items():
            if len(members) < min_group_size:
                decisions.withhold(tier, group, LEVEL_COUNTS, MIN_GROUP_SIZE)
    for tier in AUDITED_TIERS:
        system = LevelSystem(facts, tier, coalition, history=False)
        if not system.unknowns.targets.any():
            continue

        def solved_alone(group: GroupKey, system: LevelSystem = system) -> bool:
            return bool(system.solved([group]).any())

        for group in sorted(facts.groups):
            if decisions.seen_by(tier, group, LEVEL_COUNTS) and solved_alone(group):
                decisions.withhold_up_to(tier, group, LEVEL_COUNTS, DIFFERENCING)
        among: Iterable[int] | None = None
        found: list[frozenset[int]] = []  # alternatives stay valid as counts are withdrawn: shared across rounds
        while True:
            seen = [g for g in sorted(facts.groups) if decisions.seen_by(tier, g, LEVEL_COUNTS)]
            solved = system.solved(seen, among, found)
            if not solved.any():
                break
            among = np.flatnonzero(solved)  # removing counts never makes another level deducible
            group = _cheapest_count_to_withhold(system, seen, solved)
            decisions.withhold_up_to(tier, group, LEVEL_COUNTS, DIFFERENCING if solved_alone(group) else COMPLEMENTARY)
    if facts.history:
        _control_over_time(
            facts,
            decisions,
            coalition,
            lambda tier: [g for g in sorted(facts.groups) if decisions.seen_by(tier, g, LEVEL_COUNTS)],
            lambda group, tier: decisions.withhold_up_to(tier, group, LEVEL_COUNTS, EARLIER_RELEASE),
            LevelSystem,
            lambda system, groups: _cheapest_count_to_withhold(system, groups, system.solved(groups)),
        )
    return decisions


def _cheapest_count_to_withhold(system: LevelSystem, seen: list[GroupKey], solved: np.ndarray) -> GroupKey:
    """The group whose counts to withhold next: one that breaks a linear combination exposing a member, the least
    useful first (trying each candidate with integer programs would be too slow); else the least useful group
    holding an exposed member."""
    facts = system.facts
    n = system.unknowns.size
    base = np.array([np.isin(np.arange(n), c.members) for c in system.base if c.level == 0], dtype=float)
    base = base.reshape(len(base), n)
    rows = np.array([system.unknowns.current_row(facts.groups[g]) for g in seen]).reshape(len(seen), n)
    owners, k = system.unknowns.owners, system.coalition
    exposed = int(solved_by_equations(np.vstack([base, rows]), owners, k)[solved].sum())
    relief = {
        g: exposed - int(solved_by_equations(np.vstack([base, np.delete(rows, i, axis=0)]), owners, k)[solved].sum())
        for i, g in enumerate(seen)
    }
    if max(relief.values(), default=0) > 0:
        return min((g for g in seen if relief[g] > 0), key=lambda g: (_keep_rank(g), -relief[g], g))
    members = {system.hidden[i] for i in np.flatnonzero(solved)}
    holding = [g for g in seen if members & set(facts.groups[g])] or seen
    return min(holding, key=lambda g: (_keep_rank(g), -len(members & set(facts.groups[g])), g))


def control_disclosure(facts: Sequence[SeriesFacts], min_group_size: int, coalition: int = 1) -> list[Withheld]:
    """Every statistic withheld from every tier, decided for all tiers together (readers see lower tiers).

    `coalition` is the attacker model's k: an outside reader, or up to k members pooling what they know.
    A member value withheld from a tier (over time, see _control_over_time) is statistic `value` of group
    ("member", member code).
    """
    withheld = []
    for series in facts:
        if series.is_categorical:
            assert series.levels is not None
            decisions = _control_categorical(series, min_group_size, coalition)
            for (tier, group, statistic), reason in decisions.reasons.items():
                if statistic == VALUE:
                    withheld.append(Withheld(tier, series.kpi_id, series.series, *group, statistic, reason))
                    continue
                withheld += [
                    Withheld(tier, series.kpi_id, series.rollup_series(level), *group, statistic, reason)
                    for level in series.levels
                ]
        else:
            decisions = _control_numeric(series, min_group_size, coalition)
            withheld += [
                Withheld(tier, series.kpi_id, series.series, *group, statistic, reason)
                for (tier, group, statistic), reason in decisions.reasons.items()
            ]
    return sorted(
        withheld, key=lambda w: (tier_rank(w.tier), w.kpi_id, w.series, w.group_type, w.group_code, w.statistic)
    )


def withheld_frame(withheld: Sequence[Withheld], cycle: str) -> pd.DataFrame:
    columns = ["cycle", *Withheld.__dataclass_fields__]
    return pd.DataFrame([{"cycle": cycle, **asdict(w)} for w in withheld], columns=columns)


def summarize_withheld(
    withheld: pd.DataFrame, published_rollups: Mapping[str, pd.DataFrame], categorical: Iterable[str]
) -> dict[str, str]:
    """Per tier: withheld statistics by reason, and how many regional means of numeric KPIs are published."""
    summary = {}
    categorical = set(categorical)
    for tier in TIERS:
        mine = withheld[withheld["tier"] == tier]
        counts = mine.groupby("reason").size()
        by_reason = ", ".join(f"{r} {int(counts[r])}" for r in REASONS if r in counts) or "none"
        line = f"{len(mine)} statistics withheld ({by_reason})"
        rollups = published_rollups.get(tier)
        if rollups is not None:
            regional = rollups[(rollups["group_type"] == "region") & ~rollups["kpi_id"].isin(categorical)]
            has_mean = regional["mean"].notna() | regional["suppression_reason"].fillna("").str.contains("mean:")
            line += f"; regional means published: {int(regional['mean'].notna().sum())} of {int(has_mean.sum())}"
        summary[tier] = line
    return summary
