"""The per-answer expectations evaluated in pandas, without Great Expectations: the single-file verdict's path.

Great Expectations costs ~0.5 s per validation run whatever the data (its metric graph, the pydantic
serialisation of every expectation's configuration): most of the member platform's verdict
(benchmarks/verdict_latency.py). For one member's file the same planned expectations are evaluated here with
the very pandas expressions Great Expectations' pandas engine uses, and its domain rules reproduced:

- the row condition (`where`) is applied first: `table.row_count` (the outcome's `rows_checked`) counts those rows;
- a column map expectation drops the column's nulls before its condition (except the null / not-null ones),
  a column pair or compound one drops rows by its `ignore_row_if`;
- the failing rows are the remaining rows whose condition is False;
- success is vacuously True when no row is left to judge (0 rows, or, for a column map expectation other than
  the null / not-null ones, no non-null value), else True when nothing fails; `run_expectations` then rejects
  a success that contradicts its failing rows exactly as it does for Great Expectations' results.

One evaluator per expectation type, declared once in EVALUATORS; an expectation whose type or arguments have no
evaluator here (or whose columns are absent) returns None and is run by Great Expectations.
pmm_pipeline_tests/stages/quality/test_quality_fast.py proves the two paths equal on sample data and on generated
answers.
The pipeline's gate keeps using Great Expectations (its Data Docs, its checks).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class FastResult:
    rows_checked: int
    failing_row_ids: tuple[int, ...]
    success: bool


@dataclass(frozen=True)
class Evaluator:
    """How Great Expectations' pandas engine judges one expectation type.

    `domain`: "column" (kwargs["column"]), "pair" (column_A, column_B) or "multi" (column_list);
    `filters_nulls`: a column expectation drops the column's nulls before its condition;
    `ignore_row_if`: the default of a pair / multi expectation; `accepts`: every argument understood
    (any other argument, e.g. `mostly`, sends the expectation to Great Expectations);
    `condition`: True for the rows that meet the expectation.
    """

    domain: str
    condition: Callable[[pd.DataFrame, Mapping[str, Any]], pd.Series]
    accepts: frozenset[str]
    filters_nulls: bool = True
    ignore_row_if: str | None = None


def _in_set(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    column = frame[kw["column"]]
    if kw["value_set"] is None:
        return pd.Series(True, index=frame.index)
    return column.isin(kw["value_set"])


def _between(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    column = frame[kw["column"]]
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is None and high is None or (low is not None and high is not None and low > high):
        raise ValueError("invalid bounds")  # as Great Expectations raises: the gate cannot judge
    strict_low, strict_high = kw.get("strict_min"), kw.get("strict_max")
    ok = pd.Series(True, index=frame.index)
    if low is not None:
        ok &= (low < column) if strict_low else (low <= column)
    if high is not None:
        ok &= (column < high) if strict_high else (column <= high)
    return ok


def _a_greater_than_b(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    a, b = frame[kw["column_A"]], frame[kw["column_B"]]
    return a >= b if kw.get("or_equal") else a > b


EVALUATORS: dict[str, Evaluator] = {
    "ExpectColumnValuesToBeInSet": Evaluator("column", _in_set, frozenset({"column", "value_set"})),
    "ExpectColumnValuesToNotBeNull": Evaluator(
        "column", lambda f, kw: ~f[kw["column"]].isnull(), frozenset({"column"}), filters_nulls=False
    ),
    "ExpectColumnValuesToBeNull": Evaluator(
        "column", lambda f, kw: f[kw["column"]].isnull(), frozenset({"column"}), filters_nulls=False
    ),
    "ExpectColumnValuesToBeBetween": Evaluator(
        "column", _between, frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"})
    ),
    "ExpectColumnPairValuesToBeEqual": Evaluator(
        "pair",
        lambda f, kw: f[kw["column_A"]] == f[kw["column_B"]],
        frozenset({"column_A", "column_B", "ignore_row_if"}),
        ignore_row_if="both_values_are_missing",
    ),
    "ExpectColumnPairValuesAToBeGreaterThanB": Evaluator(
        "pair",
        _a_greater_than_b,
        frozenset({"column_A", "column_B", "or_equal", "ignore_row_if"}),
        ignore_row_if="both_values_are_missing",
    ),
    "ExpectCompoundColumnsToBeUnique": Evaluator(
        "multi",
        lambda f, kw: ~f[list(kw["column_list"])].duplicated(keep=False),
        frozenset({"column_list", "ignore_row_if"}),
        ignore_row_if="all_values_are_missing",
    ),
}

# ignore_row_if -> (how many of the domain's columns must be null for the row to be dropped).
_DROPS = {
    "both_values_are_missing": "all",
    "either_value_is_missing": "any",
    "neither": None,
    "all_values_are_missing": "all",
    "any_value_is_missing": "any",
    "never": None,
}


def _columns(evaluator: Evaluator, kwargs: Mapping[str, Any]) -> list[str]:
    if evaluator.domain == "column":
        return [kwargs["column"]]
    if evaluator.domain == "pair":
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs["column_list"])


def _where_mask(frame: pd.DataFrame, where: Mapping[str, Any]) -> pd.Series:
    """The row condition as Great Expectations' pandas engine applies it (`column == value`, `column in [...]`)."""
    mask = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        mask &= frame[column].isin(wanted) if isinstance(wanted, list) else frame[column].eq(wanted)
    return mask


def can_evaluate(expectation: str, kwargs: Mapping[str, Any], where: Mapping[str, Any], columns) -> bool:
    """Whether this module judges the expectation exactly as Great Expectations would (else GX runs it)."""
    evaluator = EVALUATORS.get(expectation)
    if evaluator is None or not set(kwargs) <= evaluator.accepts:
        return False
    if evaluator.domain != "column" and kwargs.get("ignore_row_if", evaluator.ignore_row_if) not in _DROPS:
        return False
    needed = {*_columns(evaluator, kwargs), *where, "row_id"}
    return needed <= set(columns)


def evaluate(expectation: str, kwargs: Mapping[str, Any], where: Mapping[str, Any], frame: pd.DataFrame) -> FastResult:
    """One expectation on `frame` (which has `row_id`), as Great Expectations' pandas engine would judge it."""
    evaluator = EVALUATORS[expectation]
    domain = frame[_where_mask(frame, where)] if where else frame
    columns = _columns(evaluator, kwargs)
    total = len(domain)
    nulls = domain[columns].isnull()
    if evaluator.domain == "column":
        judged = domain[~nulls.iloc[:, 0]] if evaluator.filters_nulls else domain
        # GX's column map success: vacuous when the column has no non-null value in the domain, except for the
        # null / not-null expectations, which judge the nulls themselves (seen in test_quality_fast.py).
        left = total - int(nulls.iloc[:, 0].sum()) if evaluator.filters_nulls else total
    else:
        drop = _DROPS[kwargs.get("ignore_row_if", evaluator.ignore_row_if)]
        if drop == "all":
            judged = domain[~nulls.all(axis=1)]
        elif drop == "any":
            judged = domain[~nulls.any(axis=1)]
        else:
            judged = domain
        left = len(judged)
    ok = evaluator.condition(judged, kwargs).astype(bool)
    failing = tuple(sorted(int(v) for v in judged.loc[~ok, "row_id"]))
    success = True if total == 0 or left == 0 else not failing
    return FastResult(total, failing, success)
