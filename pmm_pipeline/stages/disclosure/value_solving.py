"""What a reader can solve for among hidden values: by rank (linear equations) and linear programming (bounds)."""

from collections.abc import Iterable, Sequence

import numpy as np

from pmm_pipeline.stages.disclosure.programs import linear_program
from pmm_pipeline.stages.disclosure.solving import COLUMNS_OF, answers_as_before, owners_of

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


def _columns_of(owners: np.ndarray) -> dict[int, np.ndarray]:
    """The columns of each member, in order (read only: kept for the next question with the same owners)."""
    key = owners.tobytes()
    if key not in COLUMNS_OF:
        if len(COLUMNS_OF) >= 1000:
            COLUMNS_OF.clear()
        columns: dict[int, list[int]] = {}
        for column, member in enumerate(owners.tolist()):
            columns.setdefault(member, []).append(column)
        COLUMNS_OF[key] = {m: np.array(c, dtype=np.intp) for m, c in sorted(columns.items())}
    return COLUMNS_OF[key]


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
    owners = owners_of(n, owners)
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
        if answers_as_before():
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
    owners = owners_of(k, owners)
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
