"""What a reader can solve for among hidden levels of a categorical KPI: published level counts, integer programs."""

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pmm_pipeline.stages.disclosure.programs import BinaryProgram
from pmm_pipeline.stages.disclosure.solving import SOLVED_LEVELS, SOLVED_LEVELS_KEPT, answers_as_before, owners_of


@dataclass(frozen=True)
class LevelCount:
    """A published count: how many of `members` (hidden member indices) are at `level`; `group` names it."""

    group: object
    members: tuple[int, ...]
    level: int


class _LevelAlternatives:
    """Other assignments of levels to hidden members that give the same published counts (integer programs)."""

    def __init__(self, counts: Sequence[LevelCount], levels: np.ndarray, n_levels: int, found: list):
        k, q = len(levels), n_levels
        self.levels, self.k, self.q = levels, k, q
        matrix = np.zeros((k + len(counts), k * q))
        rhs = np.zeros(k + len(counts))
        for h in range(k):
            matrix[h, h * q : (h + 1) * q] = 1
            rhs[h] = 1
        for row, count in enumerate(counts, start=k):
            for h in count.members:
                matrix[row, h * q + count.level] = 1
            rhs[row] = sum(1 for h in count.members if levels[h] == count.level)
        self.matrix, self.rhs = matrix, rhs
        self.truth = np.arange(k) * q + levels  # variable index of each member's true level
        self.objective = np.zeros(k * q)
        self.objective[self.truth] = -1  # fewest changes: the smallest alternative is the most telling
        self.found: list[frozenset[int]] = found
        self._program: BinaryProgram | None = None

    def find(self, moved: int, kept: Iterable[int] = ()) -> frozenset[int] | None:
        """Members whose level differs in an alternative where `moved` changes level and those `kept` do not."""
        kept = [int(c) for c in kept]
        if answers_as_before():
            x = self._milp_solution(moved, kept)
        else:
            self._program = self._program or BinaryProgram(self.matrix, self.rhs, self.objective)
            x = self._program.minimize([self.truth[moved]], self.truth[kept])
        if x is None:  # infeasible: no such alternative
            return None
        changed = frozenset(int(h) for h in np.flatnonzero(x[self.truth] < 0.5))
        self.found.append(changed)
        return changed

    def _milp_solution(self, moved: int, kept: Sequence[int]) -> np.ndarray | None:
        """The same question as one scipy milp call (how every question was answered before programs.py)."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        lower, upper = np.zeros(self.k * self.q), np.ones(self.k * self.q)
        upper[self.truth[moved]] = 0
        lower[self.truth[kept]] = 1
        result = milp(
            self.objective,
            integrality=np.ones(self.k * self.q),
            bounds=Bounds(lower, upper),
            constraints=LinearConstraint(self.matrix, self.rhs, self.rhs),
        )
        if result.status == 2:
            return None
        if result.x is None:
            raise RuntimeError(f"level analysis failed: {result.message}")
        return result.x


def solvable_levels(
    counts: Sequence[LevelCount],
    levels: np.ndarray,
    n_levels: int,
    among: Iterable[int] | None = None,
    found: list[frozenset[int]] | None = None,
    owners: Sequence[int] | None = None,
    coalition: int = 1,
) -> np.ndarray:
    """Which hidden members' levels (true level indices `levels`) a reader can deduce from the counts.

    Deduced means: every assignment of levels giving the same counts, for an outside reader or for
    a coalition of up to `coalition` members (each knowing its own columns: `owners[j]` is the member
    of column j, one column each by default), gives the member its true level. `among` limits
    the members examined (the others are reported as not solved). `found` collects the sets of
    members that change level together in the alternatives found; pass the same list again for a
    subset of the counts (an alternative stays one when counts are withdrawn) to save work. Answers
    are kept by input within the process; an answer found there adds nothing to `found`, which only
    ever saves solver calls, never changes an answer.
    """
    levels = np.asarray(levels, dtype=int)
    owners_array = owners_of(len(levels), owners)
    among = None if among is None else sorted(int(h) for h in among)
    key = (
        tuple(counts),
        levels.tobytes(),
        n_levels,
        None if among is None else tuple(among),
        owners_array.tobytes(),
        coalition,
    )
    if key not in SOLVED_LEVELS:
        if len(SOLVED_LEVELS) >= SOLVED_LEVELS_KEPT:
            SOLVED_LEVELS.clear()
        SOLVED_LEVELS[key] = _solve_levels(counts, levels, n_levels, among, found, owners_array, coalition)
    return SOLVED_LEVELS[key].copy()


def _coalition_hitting(
    alternatives: Sequence[frozenset[int]], owners: np.ndarray, attacked: int, coalition: int
) -> tuple[int, ...] | None:
    """A coalition of up to `coalition` members (not the attacked one) that every alternative moves, if any.

    A coalition knows its own levels, so it rules out every alternative that moves one of them; it
    deduces the attacked level when no alternative is left. A coalition returned here rules out every
    alternative found so far: the caller then looks for one that keeps the coalition's levels.
    """
    moved = [{int(owners[j]) for j in alt} - {attacked} for alt in alternatives]
    if any(not m for m in moved):
        return None  # an alternative moving no one else: no coalition rules it out
    universe = sorted(set().union(*moved))
    for size in range(1, coalition + 1):
        for members in itertools.combinations(universe, size):
            chosen = set(members)
            if all(m & chosen for m in moved):
                return members
    return None


def _solve_levels(
    counts: Sequence[LevelCount],
    levels: np.ndarray,
    n_levels: int,
    among: Iterable[int] | None,
    found: list[frozenset[int]] | None,
    owners: np.ndarray,
    coalition: int,
) -> np.ndarray:
    k = len(levels)
    solved = np.zeros(k, dtype=bool)
    if k == 0 or n_levels < 2 or not counts:
        return solved
    cells: dict[int, set[object]] = {h: set() for h in range(k)}
    group_size: dict[object, int] = {}
    for count in counts:
        group_size[count.group] = len(count.members)
        for h in count.members:
            cells[h].add(count.group)
    by_cell: dict[frozenset, list[int]] = {}
    for h, cell in cells.items():
        by_cell.setdefault(frozenset(cell), []).append(h)
    alternatives: _LevelAlternatives | None = None
    for h in sorted(range(k) if among is None else among):
        cell = frozenset(cells[h])
        if not cell:
            continue  # in no published count: nothing to deduce from
        mates = by_cell[cell]
        # A swap of levels with a member of the same cell keeps every count. A mate of h's own member (its
        # other value) can always swap with it; otherwise a coalition must hold every mate at another level.
        others = {int(owners[j]) for j in mates if levels[j] != levels[h]}
        if int(owners[h]) in others or len(others) > coalition:
            continue
        if all(group_size[g] == len(mates) for g in cell):
            # h's groups hold no one but its cell: swaps within the cell are the only alternatives.
            solved[h] = True
            continue
        alternatives = alternatives or _LevelAlternatives(counts, levels, n_levels, [] if found is None else found)
        relevant = [c for c in alternatives.found if h in c]
        if not relevant:
            first = alternatives.find(h)
            if first is None:
                solved[h] = True
                continue
            relevant = [first]
        while (members := _coalition_hitting(relevant, owners, int(owners[h]), coalition)) is not None:
            alternative = alternatives.find(h, np.flatnonzero(np.isin(owners, members)))
            if alternative is None:
                solved[h] = True
                break
            relevant.append(alternative)
    return solved
