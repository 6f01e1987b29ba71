"""A KPI's formula evaluated again on the inputs a trace shows, with the same arithmetic as the KPI stage."""

import math
import re
from collections.abc import Mapping

from sqlglot import exp

from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef

REFERENCE = re.compile(r"[A-Za-z_]\w*\[T(?:-1)?\]")
_T_MINUS_1 = re.compile(r"\[T\s*-\s*1\]")  # sqlglot writes item[T - 1]; the catalogue and the trace say item[T-1]


class _Undefined(Exception):
    pass


def evaluate(formula: Formula, values: Mapping[ItemRef, float | None]) -> tuple[float | None, list[str]]:
    """The formula's value on `values` and the denominators (as written in the formula) that are zero.

    None when an input has no number. The arithmetic is the KPI stage's (doubles, division by zero is no
    value), so a reported value and its recomputation are the same double.
    """
    zero: list[str] = []

    def ev(node: exp.Expression) -> float | None:
        if isinstance(node, exp.Paren):
            return ev(node.this)
        if isinstance(node, exp.Literal):
            return float(node.this)
        if isinstance(node, exp.Bracket):
            ref = ItemRef(node.this.name, _offset(node))
            found = values.get(ref)
            return None if found is None else float(found)
        if isinstance(node, exp.Neg):
            inner = ev(node.this)
            return None if inner is None else -inner
        if isinstance(node, (exp.Abs,)):
            inner = ev(node.this)
            return None if inner is None else abs(inner)
        if isinstance(node, (exp.Least, exp.Greatest)):
            args = [ev(a) for a in [node.this, *node.expressions]]
            if any(a is None for a in args):
                return None
            return min(args) if isinstance(node, exp.Least) else max(args)
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
            left, right = ev(node.this), ev(node.expression)
            if isinstance(node, exp.Div) and right == 0:
                zero.append(_T_MINUS_1.sub("[T-1]", node.expression.sql(dialect="duckdb")))
                return None
            if left is None or right is None:
                return None
            try:
                if isinstance(node, exp.Add):
                    return left + right
                if isinstance(node, exp.Sub):
                    return left - right
                if isinstance(node, exp.Mul):
                    return left * right
                return left / right
            except OverflowError:
                return math.inf
        raise _Undefined(node.sql())

    try:
        result = ev(formula.tree)
    except _Undefined:
        return None, zero
    return result, zero


def _offset(node: exp.Bracket) -> int:
    text = node.expressions[0].sql(dialect="duckdb").replace(" ", "")
    return 0 if text == "T" else -1
