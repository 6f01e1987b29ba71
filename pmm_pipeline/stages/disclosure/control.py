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

Everything here is plain functions over DataFrames and numpy arrays; the assets wire it to Dagster.
"""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from pmm_pipeline.core.vocabulary import DEFAULT_DISCLOSURE, TIERS
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

# The secretariat sees every value, so only the lower tiers have readers to protect values from.
AUDITED_TIERS = TIERS[:-1]

MIN_GROUP_SIZE = "min_group_size"
HIDDEN_MEMBER = "hidden_member"
DIFFERENCING = "differencing"
COMPLEMENTARY = "complementary"
EARLIER_RELEASE = "earlier_release"
NOT_FINITE = "not_finite"  # set by the rollups themselves (stages/rollups/compute.py), never by disclosure control
REASONS = (MIN_GROUP_SIZE, HIDDEN_MEMBER, DIFFERENCING, COMPLEMENTARY, EARLIER_RELEASE, NOT_FINITE)

NUMERIC_STATISTICS = ("mean", "median", "min", "max", "pooled")
LINEAR_STATISTICS = ("mean", "pooled")
ORDER_STATISTICS = ("median", "min", "max")
LEVEL_COUNTS = "level_counts"  # a categorical group row's n_reporting and mean (its count and share)

# When a figure must go to stop a combination, the least useful goes first: pooled ratios, then
# means of the groupings in this order; regional and global means are kept as long as possible.
KEEP_ORDER = ("admin_type", "landlocked", "income_group", "region", "global")

TOLERANCE = 1e-8  # a value is "determined" when its unit vector is this close to the row space
RANK_TOLERANCE = 1e-10  # singular values below this fraction of the largest count as zero

GroupKey = tuple[str, str]  # (group_type, group_code)


def tier_rank(tier: str) -> int:
    return TIERS.index(tier)


def visible_in(disclosure: str | None, tier: str) -> bool:
    """Whether a value with this disclosure choice may appear in `tier` (unknown or missing = secretariat)."""
    choice = disclosure if disclosure in TIERS else DEFAULT_DISCLOSURE
    return tier_rank(tier) >= tier_rank(choice)


# --- facts of a cycle -------------------------------------------------------------------------


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
        stats = {s: float(row[s]) for s in NUMERIC_STATISTICS if _is_number(row[s])}
        stats_of.setdefault((row["kpi_id"], row["series"]), {})[(row["group_type"], row["group_code"])] = stats
    # The groups a categorical series has rows for. A group can have participants and no row at all (its
    # only members were blocked by the quality gate, so they have no KPI values): such a group has
    # nothing to publish or withhold, so decisions are taken only over the rows that exist.
    level_groups: dict[tuple[str, str], set[GroupKey]] = {}
    for kpi_id, row_series, group_type, group_code in rollups.loc[
        rollups["kpi_id"].isin(list(levels)), ["kpi_id", "series", "group_type", "group_code"]
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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and bool(np.isfinite(value))


# --- what a reader can solve for: numeric values -----------------------------------------------


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


def _solved_by_equations(rows: np.ndarray, owners: Sequence[int] | None = None, coalition: int = 1) -> np.ndarray:
    """Columns determined by the equations for an outside reader or a coalition of up to `coalition` members.

    With P the projector on the row space, column h is determined iff P[h,h] = 1. Each member of a
    coalition knows its own columns (`owners[j]` is the member of column j: a member has one column
    per value of its on record, e.g. a value and its later correction); a coalition never counts as
    determining its own columns. Coalitions are visited depth first, the last member added to all
    the coalitions of one branch at once: P'[h,h] = P[h,h] + P[h,i]^2 / (1 - P[i,i]) for a one-column
    member i (so coalitions of one cost O(n^2), of two O(n^3)).
    """
    n = rows.shape[1]
    owners = _owners_of(n, owners)
    basis = _row_space_basis(rows)
    projector = basis.T @ basis
    solved = np.diag(projector) >= 1 - TOLERANCE
    if coalition < 1 or n < 2:
        return solved
    columns_of = {int(u): np.flatnonzero(owners == u) for u in np.unique(owners)}
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
    from scipy.optimize import linprog  # imported here: only needed when values sit on bounds

    cone = signs[tight, None] * null_space[tight]
    undecided = list(range(len(tight)))
    dims = null_space.shape[1]
    while undecided:
        n = len(undecided)
        objective = np.concatenate([np.zeros(dims), -np.ones(n)])
        slack_rows = np.hstack([-cone[undecided], np.eye(n)])  # t_u - cone_u . z <= 0
        cone_rows = np.hstack([-cone, np.zeros((len(tight), n))])  # cone_j . z >= 0
        result = linprog(
            objective,
            A_ub=np.vstack([slack_rows, cone_rows]),
            b_ub=np.zeros(n + len(tight)),
            bounds=[(None, None)] * dims + [(0, 1)] * n,
            method="highs",
        )
        if result.status != 0:
            raise RuntimeError(f"bound analysis failed: {result.message}")
        loose = [u for u, t in zip(undecided, result.x[dims:], strict=True) if t > 1e-7]
        if not loose:
            break
        undecided = [u for u in undecided if u not in loose]
    return [int(tight[u]) for u in undecided]


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
    columns_of = {int(u): np.flatnonzero(owners == u) for u in sorted(among)}
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
    among = {
        int(owners[i]) for i in range(k)
        if (components[tight_all] == components[i]).sum() - (signs[i] != 0) >= 2
    }
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
    solved = _solved_by_equations(rows, owners, coalition)
    if lower is not None and upper is not None and rows.shape[0]:
        for signs in _tight_sign_alternatives(np.asarray(values, dtype=float), lower, upper):
            if np.count_nonzero(signs) >= 2 and not solved.all():
                solved |= _solved_with_bounds(rows, signs, owners, coalition)
    return solved


# --- what a reader can solve for: categorical levels -------------------------------------------


@dataclass(frozen=True)
class LevelCount:
    """A published count: how many of `members` (hidden member indices) are at `level`; `group` names it."""

    group: object
    members: tuple[int, ...]
    level: int


class _LevelAlternatives:
    """Other assignments of levels to hidden members that give the same published counts (integer programs)."""

    def __init__(self, counts: Sequence[LevelCount], levels: np.ndarray, n_levels: int, found: list):
        from scipy.optimize import Bounds, LinearConstraint, milp  # imported here: only categorical KPIs need it

        self._milp, self._bounds = milp, Bounds
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
        self.constraint = LinearConstraint(matrix, rhs, rhs)
        self.truth = np.arange(k) * q + levels  # variable index of each member's true level
        self.objective = np.zeros(k * q)
        self.objective[self.truth] = -1  # fewest changes: the smallest alternative is the most telling
        self.found: list[frozenset[int]] = found

    def find(self, moved: int, kept: Iterable[int] = ()) -> frozenset[int] | None:
        """Members whose level differs in an alternative where `moved` changes level and those `kept` do not."""
        lower, upper = np.zeros(self.k * self.q), np.ones(self.k * self.q)
        upper[self.truth[moved]] = 0
        for column in kept:
            lower[self.truth[column]] = 1
        result = self._milp(
            self.objective,
            integrality=np.ones(self.k * self.q),
            bounds=self._bounds(lower, upper),
            constraints=self.constraint,
        )
        if result.status == 2:  # infeasible: no such alternative
            return None
        if result.x is None:
            raise RuntimeError(f"level analysis failed: {result.message}")
        changed = frozenset(int(h) for h in np.flatnonzero(result.x[self.truth] < 0.5))
        self.found.append(changed)
        return changed


# Answers of solvable_levels by input. The same question comes back within a run (`pmm run` executes every
# step in one process: the withheld decisions, then each tier's release audits): 59 of 202 calls in a profiled
# run of a sample cycle, each up to a few integer programs. The answer does not depend on `found`: the
# alternatives in it are valid ones, so they change which integer programs are solved, not the answer.
_SOLVED_LEVELS: dict[tuple, np.ndarray] = {}
_SOLVED_LEVELS_KEPT = 10_000


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
    key = (tuple(counts), levels.tobytes(), n_levels, None if among is None else tuple(among),
           owners_array.tobytes(), coalition)
    if key not in _SOLVED_LEVELS:
        if len(_SOLVED_LEVELS) >= _SOLVED_LEVELS_KEPT:
            _SOLVED_LEVELS.clear()
        _SOLVED_LEVELS[key] = _solve_levels(counts, levels, n_levels, among, found, owners_array, coalition)
    return _SOLVED_LEVELS[key].copy()


def _coalition_hitting(alternatives: Sequence[frozenset[int]], owners: np.ndarray, attacked: int,
                       coalition: int) -> tuple[int, ...] | None:
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


# --- deciding what each tier withholds ----------------------------------------------------------


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


VALUE = "value"  # the statistic of a withheld member value: group ("member", member code)
MEMBER_ROW = "member"


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

        self.current = {
            m: column(facts.variable(m), r.value, r.disclosure) for m, r in sorted(facts.reporters.items())
        }
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


class _NumericSystem:
    """The linear equations that a series' published means and pooled ratios make over the unknown values.

    A group's mean gives the sum of its members' values; its pooled ratio gives the sums of their
    numerators and denominators. Either way a reader learns a sum over the group's unknown
    reporters, so a group is one equation (one row of indicators), published if either figure is.
    Denominators are not assumed known to the reader: they are members' answers, never published.
    With `history`, the equations of every earlier release the tier's readers read are always there.
    """

    def __init__(self, facts: SeriesFacts, audience: str, coalition: int = 1,
                 shown: Iterable[str] | None = None, history: bool = True):
        self.facts, self.coalition = facts, coalition
        self.unknowns = _Unknowns(facts, audience, shown, history)
        self.hidden = self.unknowns.labels
        self.values = np.array(self.unknowns.values, dtype=float)
        self.base = self.unknowns.earlier_rows()
        self._rows: dict[GroupKey, np.ndarray] = {}

    def row(self, group: GroupKey) -> np.ndarray:
        if group not in self._rows:
            self._rows[group] = self.unknowns.current_row(self.facts.groups[group])
        return self._rows[group]

    def solved(self, groups: Sequence[GroupKey], with_bounds: bool = True) -> np.ndarray:
        """The targets a reader (or coalition) determines from the earlier releases and these groups' figures."""
        n = self.unknowns.size
        if n == 0:
            return np.zeros(0, dtype=bool)
        rows = np.vstack([self.base, np.array([self.row(g) for g in groups]).reshape(len(groups), n)])
        owners = self.unknowns.owners
        if not with_bounds:
            solved = _solved_by_equations(rows, owners, self.coalition)
        else:
            solved = solvable_values(rows, self.values, self.unknowns.lower, self.unknowns.upper, owners,
                                     self.coalition)
        return solved & self.unknowns.targets

    def solved_variables(self, groups: Sequence[GroupKey]) -> set[tuple[str, object]]:
        solved = self.solved(groups)
        return {v for v, i in self.unknowns.index.items() if solved[i]}


def _cheapest_to_withhold(system: _NumericSystem, groups: list[GroupKey]) -> GroupKey:
    """The least useful group whose equation, withheld, protects some exposed value (else the least useful)."""
    for with_bounds in (False, True):  # the bound analysis is slower: only when equations alone do not tell
        exposed = int(system.solved(groups, with_bounds).sum())
        relief = {g: exposed - int(system.solved([e for e in groups if e != g], with_bounds).sum()) for g in groups}
        if max(relief.values()) > 0:
            break
    return min(groups, key=lambda g: (relief[g] <= 0, _keep_rank(g), -relief[g], g))


def _control_numeric(facts: SeriesFacts, min_group_size: int, coalition: int = 1) -> _Decisions:
    decisions = _Decisions()
    for tier in TIERS:
        for group, stats in facts.statistics.items():
            if len(facts.groups[group]) < min_group_size:
                for statistic in stats:
                    decisions.withhold(tier, group, statistic, MIN_GROUP_SIZE)
                continue
            for statistic in ORDER_STATISTICS:
                if statistic in stats and not all(
                    visible_in(facts.reporters[m].disclosure, tier) for m in facts.holders(group, statistic)
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
        system = _NumericSystem(facts, tier, coalition, history=False)
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
        _control_over_time(facts, decisions, coalition, lambda tier: [g for g in linear if seen(tier, g)],
                           lambda group, tier: withhold(group, EARLIER_RELEASE, tier), _NumericSystem,
                           _cheapest_to_withhold)
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

                def relief(member: str, shown: set[str] = shown) -> int:
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


class _LevelSystem:
    """The level counts a series' published rows make over the unknown levels (categorical KPIs), with every
    earlier release's counts when `history` (see _Unknowns)."""

    def __init__(self, facts: SeriesFacts, audience: str, coalition: int = 1,
                 shown: Iterable[str] | None = None, history: bool = True):
        assert facts.levels is not None
        self.facts, self.coalition = facts, coalition
        self.unknowns = _Unknowns(facts, audience, shown, history)
        self.hidden = self.unknowns.labels
        self.levels = np.array(self.unknowns.levels, dtype=int)
        self.base: list[LevelCount] = []
        for i, (release, columns) in enumerate(zip(self.unknowns.earlier, self.unknowns.earlier_columns,
                                                   strict=True)):
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

    def solved(self, groups: Iterable[GroupKey], among: Iterable[int] | None = None,
               found: list[frozenset[int]] | None = None) -> np.ndarray:
        assert self.facts.levels is not None
        if self.unknowns.size == 0:
            return np.zeros(0, dtype=bool)
        solved = solvable_levels(self.counts(groups), self.levels, len(self.facts.levels), among, found,
                                 self.unknowns.owners, self.coalition)
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
        system = _LevelSystem(facts, tier, coalition, history=False)
        if not system.unknowns.targets.any():
            continue

        def solved_alone(group: GroupKey, system: _LevelSystem = system) -> bool:
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
            facts, decisions, coalition,
            lambda tier: [g for g in sorted(facts.groups) if decisions.seen_by(tier, g, LEVEL_COUNTS)],
            lambda group, tier: decisions.withhold_up_to(tier, group, LEVEL_COUNTS, EARLIER_RELEASE),
            _LevelSystem,
            lambda system, groups: _cheapest_count_to_withhold(system, groups, system.solved(groups)),
        )
    return decisions


def _cheapest_count_to_withhold(system: _LevelSystem, seen: list[GroupKey], solved: np.ndarray) -> GroupKey:
    """The group whose counts to withhold next: one that breaks a linear combination exposing a member, the least
    useful first (trying each candidate with integer programs would be too slow); else the least useful group
    holding an exposed member."""
    facts = system.facts
    n = system.unknowns.size
    base = np.array([np.isin(np.arange(n), c.members) for c in system.base if c.level == 0], dtype=float)
    base = base.reshape(len(base), n)
    rows = np.array([system.unknowns.current_row(facts.groups[g]) for g in seen]).reshape(len(seen), n)
    owners, k = system.unknowns.owners, system.coalition
    exposed = int(_solved_by_equations(np.vstack([base, rows]), owners, k)[solved].sum())
    relief = {
        g: exposed - int(_solved_by_equations(np.vstack([base, np.delete(rows, i, axis=0)]), owners, k)[solved].sum())
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
    return sorted(withheld, key=lambda w: (tier_rank(w.tier), w.kpi_id, w.series, w.group_type, w.group_code,
                                           w.statistic))


def withheld_frame(withheld: Sequence[Withheld], cycle: str) -> pd.DataFrame:
    columns = ["cycle", *Withheld.__dataclass_fields__]
    return pd.DataFrame([{"cycle": cycle, **asdict(w)} for w in withheld], columns=columns)


# --- the tiers' tables --------------------------------------------------------------------------


def tier_kpi_values(values: pd.DataFrame, tier: str, withheld: pd.DataFrame | None = None) -> pd.DataFrame:
    """The contract's kpi_values rows a tier may show: only members whose choice allows the tier, less the values
    `withheld` from it (statistic `value`: with an earlier release they would reveal a hidden value)."""
    # Every choice is visible in the secretariat tier, even one it does not know (that means secretariat).
    visible = values["disclosure"].isin([d for d in TIERS if visible_in(d, tier)]) | (tier == TIERS[-1])
    if withheld is not None and len(withheld):
        mine = withheld[(withheld["tier"] == tier) & (withheld["statistic"] == VALUE)]
        gone = set(zip(mine["group_code"], mine["kpi_id"], mine["series"], strict=True))
        keys = zip(values["member_code"], values["kpi_id"], values["series"], strict=True)
        visible &= np.array([k not in gone for k in keys], dtype=bool)
    return values.loc[visible, PUBLISHED_KPI_COLUMNS].sort_values(["kpi_id", "series", "member_code"])


def tier_rollups(rollups: pd.DataFrame, withheld: pd.DataFrame, tier: str) -> pd.DataFrame:
    """rollup.rollups with the tier's withheld statistics set to NULL, `suppressed` and the reasons filled in.

    A categorical row's withheld `level_counts` are its n_reporting (the count at the level) and
    its mean (the share); a numeric row keeps n_reporting, the coverage every reader knows.
    """
    key = ["kpi_id", "series", "group_type", "group_code"]
    out = rollups[PUBLISHED_ROLLUP_COLUMNS].sort_values(key).reset_index(drop=True)
    position = {k: i for i, k in enumerate(zip(*(out[c] for c in key), strict=True))}
    entries: dict[int, list[tuple[str, str]]] = {}
    # A statistic the rollups could not represent (`not_finite`) is NULL in every tier already; its reason stays.
    for row, given in enumerate(out["suppression_reason"]):
        if isinstance(given, str) and given:
            entries[row] = [tuple(entry.split(":", 1)) for entry in given.split(";") if ":" in entry]
    mine = withheld[(withheld["tier"] == tier) & (withheld["statistic"] != VALUE)]  # values: tier_kpi_values
    for *row_key, statistic, reason in zip(*(mine[c] for c in (*key, "statistic", "reason")), strict=True):
        row = position.get(tuple(row_key))
        if row is None:
            raise ValueError(f"withheld {statistic} for a rollup row that does not exist: {row_key}")
        entries.setdefault(row, []).append((statistic, reason))
    columns = {c: out[c].to_numpy(dtype=float, na_value=np.nan) for c in (*NUMERIC_STATISTICS, "n_reporting")}
    order = {s: i for i, s in enumerate((*NUMERIC_STATISTICS, LEVEL_COUNTS))}
    reasons = np.full(len(out), None, dtype=object)
    for row, found in entries.items():
        found.sort(key=lambda e: order.get(e[0], len(order)))
        for statistic, _ in found:
            for column in ("n_reporting", "mean") if statistic == LEVEL_COUNTS else (statistic,):
                columns[column][row] = np.nan
        reasons[row] = ";".join(f"{s}:{r}" for s, r in found)
    for column, array in columns.items():
        out[column] = pd.array(array, dtype="Int64") if column == "n_reporting" else array
    out["suppressed"] = np.array([r is not None for r in reasons], dtype=bool)
    out["suppression_reason"] = reasons
    return out


# --- the audit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedTable:
    """One published table as its readers get it: a warehouse table or a file read back."""

    tier: str
    source: str  # e.g. publish_public.rollups or public/rollups.csv
    kind: str  # kpi_values or rollups
    frame: pd.DataFrame


@dataclass(frozen=True)
class Finding:
    """One published cell that shows, or lets a reader work out, something hidden from that reader."""

    audience: str
    source: str
    problem: str
    kpi_id: str = ""
    series: str = ""
    group: str = ""
    statistic: str = ""
    member_code: str = ""

    def describe(self) -> str:
        where = " ".join(x for x in (self.kpi_id, self.series, self.group, self.statistic, self.member_code) if x)
        return f"[{self.audience} readers] {self.source}: {where}: {self.problem}"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and np.isnan(value))


def _same(published: object, true: object) -> bool:
    if _missing(published) or _missing(true):
        return _missing(published) and _missing(true)
    if _is_number(published) and _is_number(true):
        # numpy.isclose(published, true, rtol=1e-12, atol=0) for finite numbers, written out: this runs for
        # every published cell, and a numpy call on two scalars cost a quarter of the release steps' time.
        published, true = float(published), float(true)
        return abs(published - true) <= 1e-12 * abs(true)
    return str(published) == str(true)


def _audit_kpi_values(audience: str, table: PublishedTable, values: pd.DataFrame) -> list[Finding]:
    missing = set(PUBLISHED_KPI_COLUMNS) - set(table.frame.columns)
    if missing:
        return [Finding(audience, table.source, f"lacks column(s) {sorted(missing)}: cannot be audited")]
    findings = []
    extra = set(table.frame.columns) - set(PUBLISHED_KPI_COLUMNS)
    if extra:
        findings.append(Finding(audience, table.source, f"has columns beyond the contract: {sorted(extra)}"))
    truth = {(r["member_code"], r["kpi_id"], r["series"]): r for r in values.to_dict("records")}
    seen = set()
    for row in table.frame.to_dict("records"):
        key = (row["member_code"], row["kpi_id"], row["series"])
        where = {"kpi_id": str(row["kpi_id"]), "series": str(row["series"]), "member_code": str(row["member_code"])}
        true = truth.get(key)
        if true is None:
            findings.append(Finding(audience, table.source, "row of no computed KPI value", **where))
        elif not visible_in(true["disclosure"], table.tier):
            findings.append(Finding(
                audience, table.source,
                f"value disclosed by the member to {true['disclosure']} only, shown in the {table.tier} tier", **where,
            ))
        else:
            if key in seen:
                findings.append(Finding(audience, table.source, "row appears twice", **where))
            findings += [
                Finding(audience, table.source, f"{column} differs from the computed value", **where)
                for column in PUBLISHED_KPI_COLUMNS
                if not _same(row[column], true[column])
            ]
        seen.add(key)
    return findings


@dataclass
class _Seen:
    """What the published rollups of the tiers an audience reads give away, per series."""

    findings: list[Finding] = field(default_factory=list)
    equations: dict[tuple[str, str], set[tuple[GroupKey, str]]] = field(default_factory=dict)
    level_counts: dict[tuple[str, str], set[tuple[GroupKey, str]]] = field(default_factory=dict)
    # Members whose value the readable kpi_values tables show, per series: what the reader knows of this release.
    shown: dict[tuple[str, str], set[str]] | None = None

    def visible(self, facts: SeriesFacts, member: str, audience: str) -> bool:
        if self.shown is None:  # no kpi_values table to go by: what the member's choice allows
            return visible_in(facts.reporters[member].disclosure, audience)
        # A value shown against its member's choice is a finding of its own; it still counts as hidden here.
        return member in self.shown.get((facts.kpi_id, facts.series), set()) and visible_in(
            facts.reporters[member].disclosure, audience)


def _audit_rollup_cells(
    audience: str, table: PublishedTable, facts_by_key: Mapping[tuple[str, str], SeriesFacts],
    true_rows: Mapping[tuple, dict], min_group_size: int, seen: _Seen,
) -> None:
    """Check every published cell of a rollups table; note the equations and counts it gives the reader."""
    report = table.tier == audience  # a lower tier's cells were checked for its own readers already
    missing = set(PUBLISHED_ROLLUP_COLUMNS) - set(table.frame.columns)
    if missing:
        seen.findings.append(Finding(audience, table.source, f"lacks column(s) {sorted(missing)}: cannot be audited"))
        return
    categorical = {f.kpi_id for f in facts_by_key.values() if f.is_categorical}

    def find(problem: str, **where: str) -> None:
        if report:
            seen.findings.append(Finding(audience, table.source, problem, **where))

    for row in table.frame.to_dict("records"):
        group = (str(row["group_type"]), str(row["group_code"]))
        where = {"kpi_id": str(row["kpi_id"]), "series": str(row["series"]), "group": "/".join(group)}
        true = true_rows.get((row["kpi_id"], row["series"], *group))
        level = None
        series_key = (row["kpi_id"], row["series"])
        if row["kpi_id"] in categorical:
            kpi_series, level = split_level_series(str(row["series"]))
            series_key = (row["kpi_id"], kpi_series)
        facts = facts_by_key.get(series_key)
        if true is None or facts is None or group not in facts.groups:
            find("row of no computed group statistic", **where)
            continue
        if not _same(row["n_participating"], true["n_participating"]):
            find("n_participating differs from the true count", **where)
        contributors = len(facts.groups[group])
        if facts.is_categorical:
            shown = [c for c in ("n_reporting", "mean") if not _missing(row[c])]
            for column in shown:
                if not _same(row[column], true[column]):
                    find(f"{column} is not the true figure", statistic=column, **where)
            for column in ("median", "min", "max", "pooled"):
                if not _missing(row[column]):
                    find(f"{column} of a categorical KPI", statistic=column, **where)
            if shown and level in (facts.levels or ()):
                if contributors < min_group_size:
                    find(f"level count of a group of {contributors} (< {min_group_size}) members",
                         statistic=LEVEL_COUNTS, **where)
                seen.level_counts.setdefault(series_key, set()).add((group, level))
            continue
        if not _missing(row["n_reporting"]) and not _same(row["n_reporting"], true["n_reporting"]):
            find("n_reporting differs from the true count", **where)
        for statistic in NUMERIC_STATISTICS:
            if _missing(row[statistic]):
                continue
            cell = {"statistic": statistic, **where}
            if not _same(row[statistic], true[statistic]):
                find("figure is not the true statistic", **cell)
                continue
            if contributors < min_group_size:
                find(f"{statistic} of a group of {contributors} (< {min_group_size}) reporting members", **cell)
            if statistic in ORDER_STATISTICS:
                for member in sorted(facts.holders(group, statistic)):
                    if not seen.visible(facts, member, audience):
                        seen.findings.append(Finding(
                            audience, table.source, f"{statistic} is the value of a member hidden from {audience}"
                            " readers", member_code=member, **cell,
                        ))
            else:
                seen.equations.setdefault(series_key, set()).add((group, statistic))


def audit_tiers(
    tables: Sequence[PublishedTable],
    facts: Sequence[SeriesFacts],
    values: pd.DataFrame,
    rollups: pd.DataFrame,
    min_group_size: int,
    coalition: int = 1,
) -> list[Finding]:
    """Every way the published tables show a reader something hidden from it, for each audience.

    An audience reads the tables of its own tier and of every lower tier, and every earlier release
    in the facts' history. `facts`, `values` and `rollups` are the truth (from kpi.kpi_values and
    rollup.rollups). Besides the disclosure rules, every published figure must be the true one: a
    number the audit cannot explain is a finding. A hidden value that the earlier releases alone
    already determine is past mending and not a finding of this release. The reader is an outsider
    or a coalition of up to `coalition` members.
    """
    findings: list[Finding] = []
    facts_by_key = {(f.kpi_id, f.series): f for f in facts}
    true_rows = {
        (r["kpi_id"], r["series"], r["group_type"], r["group_code"]): r for r in rollups.to_dict("records")
    }
    for audience in TIERS:
        readable = [t for t in tables if tier_rank(t.tier) <= tier_rank(audience)]
        if not any(t.tier == audience for t in readable):
            continue
        seen = _Seen(shown=_shown_values(readable))
        for table in readable:
            if table.kind == "kpi_values" and table.tier == audience:
                seen.findings += _audit_kpi_values(audience, table, values)
            elif table.kind == "rollups":
                _audit_rollup_cells(audience, table, facts_by_key, true_rows, min_group_size, seen)
        findings += seen.findings
        if audience not in AUDITED_TIERS:
            continue
        for series in facts:
            key = (series.kpi_id, series.series)
            shown = None
            if seen.shown is not None:  # what the tables show and the member allows (a leak is a finding above)
                shown = {m for m in seen.shown.get(key, set())
                         if m in series.reporters and seen.visible(series, m, audience)}
            if series.is_categorical:
                findings += _audit_level_counts(audience, series, seen.level_counts.get(key, set()), shown, coalition)
            else:
                findings += _audit_equations(audience, series, sorted(seen.equations.get(key, set())), shown,
                                             coalition)
    return findings


def _shown_values(tables: Sequence[PublishedTable]) -> dict[tuple[str, str], set[str]] | None:
    """Members with a reported value in the readable kpi_values tables, per series (None: no such table)."""
    frames = [t.frame for t in tables if t.kind == "kpi_values"]
    if not frames:
        return None
    shown: dict[tuple[str, str], set[str]] = {}
    for frame in frames:
        if not {"kpi_id", "series", "member_code", "status"} <= set(frame.columns):
            continue
        reported = frame[frame["status"] == "reported"]
        for kpi_id, series, member in zip(reported["kpi_id"], reported["series"], reported["member_code"],
                                          strict=True):
            shown.setdefault((str(kpi_id), str(series)), set()).add(str(member))
    return shown


def _new_exposures(system, groups, facts: SeriesFacts, audience: str, coalition: int) -> list[str]:
    """Members whose targets this release's figures determine, beyond what earlier releases determine alone."""
    past = type(system)(facts, audience, coalition, shown=[]).solved_variables([]) if facts.history else set()
    current = {facts.variable(m) for m in facts.reporters}
    return sorted({m if (m, v) in current else f"{m} (earlier value)"
                   for m, v in system.solved_variables(groups) - past})


def _audit_equations(audience: str, facts: SeriesFacts, equations: list[tuple[GroupKey, str]],
                     shown: set[str] | None = None, coalition: int = 1) -> list[Finding]:
    system = _NumericSystem(facts, audience, coalition, shown)
    if not system.unknowns.targets.any() or not (equations or facts.history):
        return []
    groups = sorted({g for g, _ in equations})
    used = ", ".join(f"{s} of {'/'.join(g)}" for g, s in equations) or "no figure of this release"
    return [
        Finding(audience, "published means and pooled ratios",
                f"hidden value can be solved for from {used}, the visible values and the earlier releases",
                facts.kpi_id, facts.series, member_code=member)
        for member in _new_exposures(system, groups, facts, audience, coalition)
    ]


def _audit_level_counts(audience: str, facts: SeriesFacts, published: set[tuple[GroupKey, str]],
                        shown: set[str] | None = None, coalition: int = 1) -> list[Finding]:
    assert facts.levels is not None
    system = _LevelSystem(facts, audience, coalition, shown)
    if not system.unknowns.targets.any() or not (published or facts.history):
        return []
    groups = sorted({g for g, _ in published})
    return [
        Finding(audience, "published level counts", "hidden level can be deduced from the published counts"
                " and the earlier releases", facts.kpi_id, facts.series, member_code=member)
        for member in _new_exposures(system, groups, facts, audience, coalition)
    ]


def summarize_withheld(withheld: pd.DataFrame, published_rollups: Mapping[str, pd.DataFrame],
                       categorical: Iterable[str]) -> dict[str, str]:
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
