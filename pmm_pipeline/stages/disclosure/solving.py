"""What a reader can solve for: hidden values by rank and linear programming, hidden levels by integer programming."""

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from pmm_pipeline.stages.disclosure.programs import BinaryProgram, linear_program

TOLERANCE = 1e-8  # a value is "determined" when its unit vector is this close to the row space
RANK_TOLERANCE = 1e-10  # singular values below this fraction of the largest count as zero


def _normalized(rows: np.ndarray) -> np.ndarray:
    scale = np.abs(rows).max(axis=1) if rows.size else np.zeros(0)
    keep = scale > 0
    return rows[keep] / scale[keep, None]


def _row_space_basis(rows: np.ndarray) -> np.ndarray:
    rows = _normalized(rows)
    if rows.shape[0] == 0:
        return np.zeros((0, rows.shape[1]))
    _, singular, vt = np.linalg.svd(rows, full_matrices=False)
    rank = int((singular > RANK_TOLERANCE * singular[0]).sum())
    return vt[:rank]


def _null_space_basis(rows: np.ndarray) -> np.ndarray:
    k = rows.shape[1]
    rows = _normalized(rows)
    if rows.shape[0] == 0:
        return np.eye(k)
    _, singular, vt = np.linalg.svd(rows, full_matrices=True)
    rank = int((singular > RANK_TOLERANCE * singular[0]).sum())
    return vt[rank:].T


def _owners_of(n: int, owners: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """Who knows each column: by default every column is its own member's (one value each)."""
    return np.arange(n) if owners is None else np.asarray(owners, dtype=int)


_COLUMNS_OF: dict[bytes, dict[int, np.ndarray]] = {}  # by owners: one system asks many questions with the same


def _columns_of(owners: np.ndarray) -> dict[int, np.ndarray]:
    """The columns of each member, in order (read only: kept for the next question with the same owners)."""
    key = owners.tobytes()
    if key not in _COLUMNS_OF:
        if len(_COLUMNS_OF) >= 1000:
            _COLUMNS_OF.clear()
        columns: dict[int, list[int]] = {}
        for column, member in enumerate(owners.tolist()):
            columns.setdefault(member, []).append(column)
        _COLUMNS_OF[key] = {m: np.array(c, dtype=np.intp) for m, c in sorted(columns.items())}
    return _COLUMNS_OF[key]


def _with_known(projector: np.ndarray, columns: Iterable[int]) -> np.ndarray:
    """The projector on the row space once the reader also knows these columns.

    Knowing column i adds e_i to the row space: P' = P + r r^T / |r|^2 with r = (I - P) e_i, and
    |r|^2 = 1 - P[i, i] (I - P is a projector too).
    """
    for c in columns:
        r = -projector[:, c].copy()
        r[c] += 1.0
        if r[c] > TOLERANCE:
            projector = projector + np.outer(r, r) / r[c]
    return projector


def solved_by_equations(rows: np.ndarray, owners: Sequence[int] | None = None, coalition: int = 1) -> np.ndarray:
    """Columns determined by the equations for an outside reader or a coalition of up to `coalition` members.

    With P the projector on the row space, column h is determined iff P[h,h] = 1. Each member of a
    coalition knows its own columns (`owners[j]` is the member of column j: a member has one column
    per value of its on record, e.g. a value and its later correction); a coalition never counts as
    determining its own columns. Coalitions are visited depth first, the last member added to all
    the coalitions of one branch at once: P'[h,h] = P[h,h] + P[h,i]^2 / (1 - P[i,i]) for a one-column
    member i (so coalitions of one cost O(n^2), of two O(n^3)).
    """
    n = rows.shape[1]
    one_sum = _one_sum(rows, owners)
    if one_sum is not None:
        return _solved_by_one_sum(one_sum, coalition)
    owners = _owners_of(n, owners)
    basis = _row_space_basis(rows)
    projector = basis.T @ basis
    solved = np.diag(projector) >= 1 - TOLERANCE
    if coalition < 1 or n < 2:
        return solved
    columns_of = _columns_of(owners)
    units = sorted(columns_of)
    single = np.array([columns_of[u][0] for u in units if len(columns_of[u]) == 1], dtype=int)
    differ = owners[:, None] != owners[None, :]

    def visit(projector: np.ndarray, members: tuple[int, ...], left: int) -> None:
        nonlocal solved
        free = ~np.isin(owners, members)
        diagonal = np.diag(projector)
        solved |= free & (diagonal >= 1 - TOLERANCE)
        if left == 0 or solved[free].all():
            return
        residual = 1 - diagonal
        if left == 1 and single.size:
            cols = single[(residual[single] > TOLERANCE) & ~np.isin(owners[single], members)]
            if cols.size:
                gain = diagonal[:, None] + projector[:, cols] ** 2 / residual[None, cols]
                solved |= free & ((gain >= 1 - TOLERANCE) & differ[:, cols]).any(axis=1)
        after = units.index(members[-1]) + 1 if members else 0
        for u in units[after:] if left > 1 else [u for u in units if len(columns_of[u]) > 1]:
            if u in members or (residual[columns_of[u]] <= TOLERANCE).all():
                continue  # what the member knows is known to everyone already: it adds nothing
            visit(_with_known(projector, columns_of[u]), (*members, u), left - 1)

    visit(projector, (), coalition)
    return solved


def _tight_sign_alternatives(values: np.ndarray, lower: float, upper: float) -> list[np.ndarray]:
    """Which hidden values sit on an a-priori bound: +1 on the lower, -1 on the upper.

    The reader is granted the tightest bounds consistent with the data, the true range of the
    series. When every value is equal, only one of the two can be a real bound: try each.
    """
    if lower < upper:
        return [np.where(values == lower, 1, np.where(values == upper, -1, 0))]
    at_bound = (values == lower).astype(int)
    return [at_bound, -at_bound]


def _implicit_bounds(null_space: np.ndarray, tight: np.ndarray, signs: np.ndarray) -> list[int]:
    """Tight bounds that hold with equality in every feasible direction (so those values are pinned).

    Feasible directions from the true point are d = N z with signs[j] * d[j] >= 0 for each tight
    j. Repeatedly maximize the number of tight constraints that can be strictly positive; those
    that never can are the implicit equalities.
    """
    cone = signs[tight, None] * null_space[tight]
    undecided = list(range(len(tight)))
    dims = null_space.shape[1]
    while undecided:
        n = len(undecided)
        objective = np.concatenate([np.zeros(dims), -np.ones(n)])
        slack_rows = np.hstack([-cone[undecided], np.eye(n)])  # t_u - cone_u . z <= 0
        cone_rows = np.hstack([-cone, np.zeros((len(tight), n))])  # cone_j . z >= 0
        matrix = np.vstack([slack_rows, cone_rows])
        lower = np.concatenate([np.full(dims, -np.inf), np.zeros(n)])
        upper = np.concatenate([np.full(dims, np.inf), np.ones(n)])
        if _SOLVED_AS_BEFORE:
            x = _linprog_solution(objective, matrix, lower, upper)
        else:  # the optimum's t is unique (each t_u is 1 where it can be positive, z scaled up, else 0)
            x = linear_program(objective, matrix, np.zeros(n + len(tight)), lower, upper)
        loose = [u for u, t in zip(undecided, x[dims:], strict=True) if t > 1e-7]
        if not loose:
            break
        undecided = [u for u in undecided if u not in loose]
    return [int(tight[u]) for u in undecided]


def _linprog_solution(objective, matrix, lower, upper) -> np.ndarray:
    """The bound analysis's linear program as one scipy linprog call (as before programs.py)."""
    from scipy.optimize import linprog

    bounds = [(None if np.isinf(lo) else lo, None if np.isinf(up) else up) for lo, up in zip(lower, upper, strict=True)]
    result = linprog(objective, A_ub=matrix, b_ub=np.zeros(len(matrix)), bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"bound analysis failed: {result.message}")
    return result.x


def _components(rows: np.ndarray) -> np.ndarray:
    """Connected component of each column, columns linked when they share a row."""
    k = rows.shape[1]
    parent = list(range(k))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in rows:
        cols = np.flatnonzero(row)
        for c in cols[1:]:
            parent[find(int(c))] = find(int(cols[0]))
    return np.array([find(i) for i in range(k)])


def _coalitions_bounds_may_pin(
    rows: np.ndarray, owners: np.ndarray, coalition: int, among: set[int], signs: np.ndarray
) -> Iterable[tuple[tuple[int, ...], np.ndarray]]:
    """(members, projector of the row space with their columns known) for every coalition of up to `coalition`
    members drawn from `among` (the empty one included) for which bounds may pin a value.

    d = (I - P) s is a feasible direction that moves every tight value outside the coalition off its
    bound when s_j d_j > 0 for each such j; then nothing is pinned and no LP is needed. The last member
    of a coalition is tried for all one-column members at once: with r = (I - P) e_i,
    d' = d - r (r . s) / (1 - P[i, i]).
    """
    basis = _row_space_basis(rows)
    every = _columns_of(owners)
    columns_of = {u: every[u] for u in sorted(among)}
    units = sorted(columns_of)
    tight = signs != 0

    def may_pin(direction: np.ndarray, known: np.ndarray) -> bool:
        outside = tight & ~known
        return outside.sum() >= 2 and not np.all(signs[outside] * direction[outside] > TOLERANCE)

    def visit(projector: np.ndarray, members: tuple[int, ...], after: int):
        known = np.isin(owners, members)
        direction = signs - projector @ signs
        if may_pin(direction, known):
            yield members, projector
        if len(members) == coalition:
            return
        later = units[after:]
        if len(members) + 1 == coalition:
            singles = [u for u in later if len(columns_of[u]) == 1]
            if singles:
                cols = np.array([columns_of[u][0] for u in singles])
                residual = 1 - projector[cols, cols]
                r = -projector[:, cols]
                r[cols, np.arange(len(cols))] += 1.0
                safe = np.where(residual > TOLERANCE, residual, np.inf)
                moved = direction[:, None] - r * (r.T @ signs)[None, :] / safe[None, :]
                for j, u in enumerate(singles):
                    also = known.copy()
                    also[cols[j]] = True
                    if may_pin(moved[:, j], also):
                        yield (*members, u), _with_known(projector, [cols[j]])
            later = [u for u in later if len(columns_of[u]) > 1]
            for u in later:
                yield from visit(_with_known(projector, columns_of[u]), (*members, u), len(units))
            return
        for i in range(after, len(units)):
            yield from visit(_with_known(projector, columns_of[units[i]]), (*members, units[i]), i + 1)

    yield from visit(basis.T @ basis, (), 0)


def _solved_with_bounds(
    rows: np.ndarray, signs: np.ndarray, owners: Sequence[int] | None = None, coalition: int = 1
) -> np.ndarray:
    """Columns pinned once bounds that are tight at the true values are taken into account, for an outside
    reader or a coalition of up to `coalition` members knowing their own columns.

    d = (I - P) s is a feasible direction that moves every tight value off its bound when s_j d_j > 0
    for each tight j outside the coalition; then nothing is pinned by bounds and no LP is needed.
    """
    k = rows.shape[1]
    owners = _owners_of(k, owners)
    solved = np.zeros(k, dtype=bool)
    components = _components(rows)
    tight_all = np.flatnonzero(signs)
    # A member can only matter in a component that holds at least two tight values besides its own.
    tight_in_component = np.bincount(components[tight_all], minlength=k)
    among = set(owners[tight_in_component[components] - (signs != 0) >= 2].tolist())
    for members, _ in _coalitions_bounds_may_pin(rows, owners, coalition, among, signs):
        known_columns = np.flatnonzero(np.isin(owners, members))
        tight = np.array([j for j in tight_all if j not in known_columns], dtype=int)
        known = np.vstack([rows, np.eye(k)[known_columns]]) if len(known_columns) else rows
        null_space = _null_space_basis(known)
        if null_space.shape[1] == 0:
            continue
        pinned = _implicit_bounds(null_space, tight, signs)
        if not pinned:
            continue
        basis = _row_space_basis(np.vstack([known, np.eye(k)[pinned]]))
        newly = np.einsum("ij,ij->j", basis, basis) >= 1 - TOLERANCE
        newly[known_columns] = False
        solved |= newly
    return solved


def solvable_values(
    rows: np.ndarray,
    values: np.ndarray,
    lower: float | None = None,
    upper: float | None = None,
    owners: Sequence[int] | None = None,
    coalition: int = 1,
) -> np.ndarray:
    """Which hidden values (the columns of `rows`, true values `values`) a reader can solve for.

    `rows` holds one published linear equation per row (coefficients on the hidden values; the
    visible part is known to the reader). `lower`/`upper` is the true range of the whole series.
    The reader is an outsider or a coalition of up to `coalition` members, each knowing its own
    columns (`owners`: the member of each column; by default one column each).
    """
    rows = np.asarray(rows, dtype=float).reshape(-1, len(values))
    one_sum = _one_sum(rows, owners)
    solved = solved_by_equations(rows, owners, coalition) if one_sum is None else _solved_by_one_sum(one_sum, coalition)
    if lower is not None and upper is not None and rows.shape[0]:
        for signs in _tight_sign_alternatives(np.asarray(values, dtype=float), lower, upper):
            if np.count_nonzero(signs) >= 2 and not solved.all():
                if one_sum is None:
                    solved |= _solved_with_bounds(rows, signs, owners, coalition)
                else:
                    solved |= _pinned_in_one_sum(one_sum, signs, coalition)
    return solved


def _one_sum(rows: np.ndarray, owners: Sequence[int] | None) -> np.ndarray | None:
    """The hidden values of a single published sum (a group's mean alone, no earlier release), one column per
    member, as a boolean mask; None for any other system. Such a system is settled in closed form."""
    if rows.shape[0] != 1 or not np.isin(rows, (0.0, 1.0)).all():
        return None
    if owners is not None and len(np.unique(np.asarray(owners))) != rows.shape[1]:
        return None
    return rows[0] == 1.0


def _solved_by_one_sum(in_sum: np.ndarray, coalition: int) -> np.ndarray:
    """solved_by_equations of one sum: a value is determined once every other value in the sum is known, i.e. when
    it is alone in the sum or the others are few enough to be a coalition."""
    u = int(in_sum.sum())
    return in_sum & (u == 1 or (coalition >= 1 and len(in_sum) >= 2 and u - 1 <= coalition))


def _pinned_in_one_sum(in_sum: np.ndarray, signs: np.ndarray, coalition: int) -> np.ndarray:
    """_solved_with_bounds of one sum: a value on a bound is pinned when every value of the sum the reader does not
    know is on the same bound (the sum then holds only if none moves), i.e. when those that are not on it are few
    enough to be a coalition knowing them; the coalition's own values do not count."""
    pinned = np.zeros(len(in_sum), dtype=bool)
    for sign in (1, -1):
        on_bound = in_sum & (signs == sign)
        if on_bound.any() and int((in_sum & ~on_bound).sum()) <= max(coalition, 0):
            pinned |= on_bound
    return pinned


# Set by solved_as_before() (tests and the benchmark): every question answered by a solver as before, the
# reference that the settled-without-a-solver answers must equal.
_SOLVED_AS_BEFORE = False


@contextmanager
def solved_as_before() -> Iterator[None]:
    """Within: every question goes to scipy's solvers one call each, nothing settled otherwise or reused."""
    global _SOLVED_AS_BEFORE
    saved, _SOLVED_AS_BEFORE = _SOLVED_AS_BEFORE, True
    kept = dict(_SOLVED_LEVELS)
    _SOLVED_LEVELS.clear()
    try:
        yield
    finally:
        _SOLVED_AS_BEFORE = saved
        _SOLVED_LEVELS.clear()
        _SOLVED_LEVELS.update(kept)


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
        if _SOLVED_AS_BEFORE:
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


# Answers of solvable_levels by input. The same question comes back within a run (`pmm run` executes every
# step in one process: the withheld decisions, then each tier's release audits): 59 of 202 calls in a profiled
# run of a sample cycle, each up to a few integer programs. The answer does not depend on `found`: the
# alternatives in it are valid ones, so they change which integer programs are solved, not the answer.
_SOLVED_LEVELS: dict[tuple, np.ndarray] = {}
_SOLVED_LEVELS_KEPT = 10_000
PROCESS_CACHES = (_SOLVED_LEVELS, _COLUMNS_OF)  # what the process keeps between questions (the benchmark empties)


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
    owners_array = _owners_of(len(levels), owners)
    among = None if among is None else sorted(int(h) for h in among)
    key = (
        tuple(counts),
        levels.tobytes(),
        n_levels,
        None if among is None else tuple(among),
        owners_array.tobytes(),
        coalition,
    )
    if key not in _SOLVED_LEVELS:
        if len(_SOLVED_LEVELS) >= _SOLVED_LEVELS_KEPT:
            _SOLVED_LEVELS.clear()
        _SOLVED_LEVELS[key] = _solve_levels(counts, levels, n_levels, among, found, owners_array, coalition)
    return _SOLVED_LEVELS[key].copy()


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
