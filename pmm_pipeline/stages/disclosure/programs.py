"""The linear and integer programs of disclosure control, solved with HiGHS directly (highspy).

Each solve through scipy's milp or linprog built a new HiGHS model: checks, a sparse matrix, presolve and
a cold start, about 3 ms however small the program, and nearly all of the disclosure step's time. Here a
model is built once per system of equations and kept: a question only changes a few column bounds, and the
simplex method starts from the previous basis. An integer program is first solved as its linear relaxation,
which settles it exactly when the relaxation is infeasible (then so is the integer program) or when its
optimum is integral (checked in integers: then it is an optimum of the integer program too); only a
fractional optimum goes on to branch and bound, in a model of its own.

`SOLVES` counts the solves of the process by kind, for the benchmark (benchmarks/disclosure.py).
"""

from collections import Counter

import highspy
import numpy as np

# highspy.Highs is the same solver with Python callbacks and a licence banner printed on first use; the
# pipeline's output stays its own.
_Highs = highspy._Highs
INTEGRAL = 1e-9  # a relaxation's value this close to 0 or 1 is taken as that integer, then checked exactly
SOLVES: Counter = Counter()
# Relaxations a depth-first search may solve for one question before HiGHS's own branch and bound takes over
# (about 15 ms a call here, against well under 1 ms for a warm relaxation).
NODE_LIMIT = 40


class _TooManyNodes(Exception):
    pass


def _model(
    matrix: np.ndarray,
    lower_rows: np.ndarray,
    upper_rows: np.ndarray,
    cost: np.ndarray,
    integer: bool,
    warm: bool = True,
    lower_columns: np.ndarray | None = None,
    upper_columns: np.ndarray | None = None,
):
    """A HiGHS model of min cost.x, lower_rows <= matrix x <= upper_rows, lower_columns <= x <= upper_columns (0 and
    1 by default; integer x if `integer`); `warm`: kept for more solves with other bounds."""
    highs = _Highs()
    highs.setOptionValue("output_flag", False)
    if warm and not integer:
        highs.setOptionValue("presolve", "off")  # presolve would throw away the basis kept between solves
        highs.setOptionValue("solver", "simplex")
    n = matrix.shape[1]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.zeros(n) if lower_columns is None else np.asarray(lower_columns, dtype=float)
    lp.col_upper_ = np.ones(n) if upper_columns is None else np.asarray(upper_columns, dtype=float)
    lp.row_lower_, lp.row_upper_ = np.asarray(lower_rows, dtype=float), np.asarray(upper_rows, dtype=float)
    rows, cols = np.nonzero(matrix.T)  # column-wise: `rows` are the columns, `cols` the rows
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
    lp.a_matrix_.index_ = cols.astype(np.int32)
    lp.a_matrix_.value_ = matrix.T[rows, cols].astype(float)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    highs.passModel(lp)
    return highs


def linear_program(
    cost: np.ndarray, matrix: np.ndarray, upper_rows: np.ndarray, lower_columns: np.ndarray, upper_columns: np.ndarray
) -> np.ndarray:
    """An optimal x of min cost.x, matrix x <= upper_rows, lower_columns <= x <= upper_columns (infinite: no bound),
    as scipy's linprog(method="highs") solves it, without its checks and conversions (~2 ms a call)."""
    highs = _model(
        matrix, np.full(matrix.shape[0], -np.inf), upper_rows, cost, False, False, lower_columns, upper_columns
    )
    highs.run()
    SOLVES["linear"] += 1
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"bound analysis failed: HiGHS {highs.modelStatusToString(status)}")
    return np.asarray(highs.getSolution().col_value, dtype=float)


class BinaryProgram:
    """min cost.x over 0/1 vectors x with matrix x = rhs, asked again and again with a few variables fixed.

    `matrix` and `rhs` are integers (the level-count systems of level_solving.py), so a 0/1 vector is checked
    against them exactly.
    """

    def __init__(self, matrix: np.ndarray, rhs: np.ndarray, cost: np.ndarray):
        self.matrix, self.rhs, self.cost = matrix, np.asarray(rhs, dtype=float), cost
        self.n = matrix.shape[1]
        self._relaxation = _model(matrix, self.rhs, self.rhs, cost, integer=False)
        self._integer = None  # built on the first fractional relaxation

    def _set_bounds(self, highs, columns: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(columns):
            highs.changeColsBounds(len(columns), columns.astype(np.int32), lower, upper)

    def _solve(self, highs, fixed_zero: np.ndarray, fixed_one: np.ndarray, kind: str) -> np.ndarray | None:
        columns = np.concatenate([fixed_zero, fixed_one]).astype(np.int32)
        zeros, ones = np.zeros(len(fixed_zero)), np.ones(len(fixed_one))
        self._set_bounds(highs, columns, np.concatenate([zeros, ones]), np.concatenate([zeros, ones]))
        try:
            highs.run()
            SOLVES[kind] += 1
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kInfeasible:
                return None
            if status != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError(f"level analysis failed: HiGHS {highs.modelStatusToString(status)}")
            return np.asarray(highs.getSolution().col_value, dtype=float)
        finally:  # back to 0 <= x <= 1 for the next question
            self._set_bounds(highs, columns, np.zeros(len(columns)), np.ones(len(columns)))

    def _integral(self, x: np.ndarray, fixed_zero: np.ndarray, fixed_one: np.ndarray) -> np.ndarray | None:
        rounded = np.rint(x)
        if np.abs(x - rounded).max(initial=0) > INTEGRAL:
            return None
        ints = rounded.astype(np.int64)
        feasible = (
            ((ints == 0) | (ints == 1)).all()
            and (ints[fixed_zero] == 0).all()
            and (ints[fixed_one] == 1).all()
            and np.array_equal(self.matrix.astype(np.int64) @ ints, np.rint(self.rhs).astype(np.int64))
        )
        return rounded if feasible else None

    def _branch(self, fixed_zero: np.ndarray, fixed_one: np.ndarray, x: np.ndarray, nodes: list[int]):
        """Depth first over the relaxation, a fractional variable fixed to each value in turn: a 0/1 solution
        (the first found, not always an optimal one) or None when every branch is infeasible. Raises
        _TooManyNodes past NODE_LIMIT relaxations."""
        fraction = np.abs(x - np.rint(x))
        j = int(np.argmax(fraction))
        for value in (1, 0) if x[j] >= 0.5 else (0, 1):
            nodes[0] += 1
            if nodes[0] > NODE_LIMIT:
                raise _TooManyNodes
            zero = np.append(fixed_zero, j) if value == 0 else fixed_zero
            one = np.append(fixed_one, j) if value == 1 else fixed_one
            y = self._solve(self._relaxation, zero, one, "branch")
            if y is None:
                continue
            found = self._integral(y, zero, one)
            if found is None:
                found = self._branch(zero, one, y, nodes)
            if found is not None:
                return found
        return None

    def minimize(self, fixed_zero, fixed_one) -> np.ndarray | None:
        """A 0/1 solution with the variables `fixed_zero` at 0 and `fixed_one` at 1, or None if there is none.

        The solution is optimal when the relaxation's optimum is integral (nearly always here) or when HiGHS's
        branch and bound gives it; a short depth-first search over the warm relaxation may give a feasible one
        first. Either way None means that no 0/1 solution exists: every branch was proven infeasible.
        """
        fixed_zero = np.asarray(fixed_zero, dtype=int).reshape(-1)
        fixed_one = np.asarray(fixed_one, dtype=int).reshape(-1)
        x = self._solve(self._relaxation, fixed_zero, fixed_one, "relaxation")
        if x is None:
            return None  # no fractional solution, so no integer one
        integral = self._integral(x, fixed_zero, fixed_one)
        if integral is not None:
            return integral  # the relaxation's optimum bounds the integer program's, and attains it
        try:
            return self._branch(fixed_zero, fixed_one, x, [0])
        except _TooManyNodes:
            pass
        if self._integer is None:
            self._integer = _model(self.matrix, self.rhs, self.rhs, self.cost, integer=True)
        x = self._solve(self._integer, fixed_zero, fixed_one, "integer")
        if x is None:
            return None
        integral = self._integral(x, fixed_zero, fixed_one)
        if integral is None:
            raise RuntimeError("level analysis failed: HiGHS gave a solution that does not satisfy the counts")
        return integral
