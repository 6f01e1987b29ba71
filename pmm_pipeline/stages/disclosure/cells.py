"""Published cells against the true ones a column at a time: the audit's rule for one cell, vectorised.

A cell that shows nothing (None, NA, NaN or empty text) equals only another such cell; two numbers are
equal when they are the same double as the format holds it (Excel keeps 16 significant digits); anything
else is compared as text. A format whose reader cannot give every double back exactly is given a
relative tolerance instead. Columns of one plain type take numpy's path; a column of mixed types is
compared cell by cell with the same rule.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pmm_pipeline.stages.disclosure.facts import is_number


@dataclass(frozen=True)
class Precision:
    """What a published table's numbers can be held to: every bit unless said otherwise."""

    digits: int | None = None  # significant decimal digits the format stores (Excel: 16)
    rtol: float = 0.0  # relative difference allowed, for a reader that can be off in the last bits


EXACT = Precision()


def as_written(number: float, digits: int | None) -> float:
    """The double a format keeping `digits` significant digits holds for `number` (all of them: None)."""
    if digits is None or not np.isfinite(number):
        return number
    return float(f"{number:.{digits}G}")


def missing_cell(value: object) -> bool:
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and np.isnan(value))


def same_cell(published: object, true: object, precision: Precision = EXACT) -> bool:
    if missing_cell(published) or missing_cell(true):
        return missing_cell(published) and missing_cell(true)
    if is_number(published) and is_number(true):
        shown, truth = float(published), as_written(float(true), precision.digits)
        return abs(shown - truth) <= precision.rtol * abs(truth)
    return str(published) == str(true)


def _kind(column: pd.Series) -> str:
    """number, text, or mixed (compared cell by cell)."""
    if column.dtype.kind in "fiub" or str(column.dtype) in ("Int64", "Float64", "boolean"):
        return "number"
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return "text"
    return "mixed"


def missing_cells(column: pd.Series) -> np.ndarray:
    kind = _kind(column)
    if kind == "number":
        return column.isna().to_numpy(dtype=bool)
    if kind == "text":
        return column.isna().to_numpy(dtype=bool) | (column.to_numpy(dtype=object) == "")
    return np.array([missing_cell(v) for v in column.to_numpy(dtype=object)], dtype=bool)


def same_cells(published: pd.Series, true: pd.Series, precision: Precision = EXACT) -> np.ndarray:
    """Per row, whether the published cell is the true one (the two columns aligned by position)."""
    kinds = {_kind(published), _kind(true)}
    if kinds == {"number"}:
        shown = published.to_numpy(dtype="float64", na_value=np.nan)
        truth = true.to_numpy(dtype="float64", na_value=np.nan)
        if precision.digits is not None:
            truth = np.array([as_written(x, precision.digits) for x in truth.tolist()], dtype="float64")
        shown_missing, true_missing = np.isnan(shown), np.isnan(truth)
        with np.errstate(invalid="ignore"):  # inf - inf: not finite, and then equal only if the same
            close = np.where(
                np.isfinite(shown) & np.isfinite(truth),
                np.abs(shown - truth) <= precision.rtol * np.abs(truth),
                shown == truth,
            )
        return np.where(shown_missing | true_missing, shown_missing & true_missing, close)
    if kinds == {"text"}:
        shown_missing, true_missing = missing_cells(published), missing_cells(true)
        equal = published.to_numpy(dtype=object) == true.to_numpy(dtype=object)
        return np.where(shown_missing | true_missing, shown_missing & true_missing, equal)
    pairs = zip(published.to_numpy(dtype=object), true.to_numpy(dtype=object), strict=True)
    return np.array([same_cell(p, t, precision) for p, t in pairs], dtype=bool)
