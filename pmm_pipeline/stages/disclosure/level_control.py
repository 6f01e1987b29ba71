"""Disclosure control of categorical KPIs: which groups' level counts each tier withholds."""

from collections.abc import Iterable

import numpy as np

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.decisions import (
    COMPLEMENTARY,
    DIFFERENCING,
    EARLIER_RELEASE,
    MIN_GROUP_SIZE,
    Decisions,
    control_over_time,
    keep_rank,
)
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS, LEVEL_COUNTS, GroupKey, SeriesFacts
from pmm_pipeline.stages.disclosure.level_solving import LevelCount, solvable_levels
from pmm_pipeline.stages.disclosure.unknowns import Unknowns
from pmm_pipeline.stages.disclosure.value_solving import solved_by_equations


class LevelSystem:
    """The level counts a series' published rows make over the unknown levels (categorical KPIs), with every
    earlier release's counts when `history` (see Unknowns)."""

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
        self.unknowns = Unknowns(facts, audience, shown, history)
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


def control_categorical(facts: SeriesFacts, min_group_size: int, coalition: int = 1) -> Decisions:
    assert facts.levels is not None
    decisions = Decisions()
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
        control_over_time(
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
        return min((g for g in seen if relief[g] > 0), key=lambda g: (keep_rank(g), -relief[g], g))
    members = {system.hidden[i] for i in np.flatnonzero(solved)}
    holding = [g for g in seen if members & set(facts.groups[g])] or seen
    return min(holding, key=lambda g: (keep_rank(g), -len(members & set(facts.groups[g])), g))
