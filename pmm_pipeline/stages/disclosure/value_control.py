"""Disclosure control of numeric KPIs: which means and pooled ratios (and order statistics) each tier withholds."""

import functools
from collections.abc import Iterable, Sequence

import numpy as np

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.decisions import (
    COMPLEMENTARY,
    DIFFERENCING,
    EARLIER_RELEASE,
    HIDDEN_MEMBER,
    MIN_GROUP_SIZE,
    Decisions,
    control_over_time,
    keep_rank,
)
from pmm_pipeline.stages.disclosure.facts import (
    AUDITED_TIERS,
    LINEAR_STATISTICS,
    ORDER_STATISTICS,
    GroupKey,
    SeriesFacts,
    visible_in,
)
from pmm_pipeline.stages.disclosure.unknowns import Unknowns
from pmm_pipeline.stages.disclosure.value_solving import solvable_values, solved_by_equations


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
        self.unknowns = Unknowns(facts, audience, shown, history)
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
    return min(groups, key=lambda g: (relief[g] <= 0, keep_rank(g), -relief[g], g))


def control_numeric(facts: SeriesFacts, min_group_size: int, coalition: int = 1) -> Decisions:
    decisions = Decisions()
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
        control_over_time(
            facts,
            decisions,
            coalition,
            lambda tier: [g for g in linear if seen(tier, g)],
            lambda group, tier: withhold(group, EARLIER_RELEASE, tier),
            NumericSystem,
            _cheapest_to_withhold,
        )
    return decisions
