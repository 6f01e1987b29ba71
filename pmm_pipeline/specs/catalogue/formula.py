"""The KPI formula language: arithmetic over `item[T]` / `item[T-1]`, parsed by sqlglot and checked on load.

A formula is parsed once into a sqlglot tree, every node is checked against a small whitelist, and
the tree is later rendered to DuckDB SQL by replacing each item reference with a column of the
pivoted answers. Values never enter the SQL text: item codes and years are bound as parameters by
the KPI stage.
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

ALLOWED_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Abs: "abs",
    exp.Least: "least",
    exp.Greatest: "greatest",
}
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Paren)
YEAR_OFFSETS = {"T": 0, "T-1": -1}


class FormulaError(ValueError):
    """A formula that cannot be accepted; the message says why in the statistician's terms."""


@dataclass(frozen=True, order=True)
class ItemRef:
    """One item at one year relative to the reporting year T (offset 0 or -1)."""

    item: str
    offset: int

    def __str__(self) -> str:
        return f"{self.item}[T{'' if self.offset == 0 else self.offset}]"


@dataclass(frozen=True)
class Formula:
    source: str
    tree: exp.Expression
    refs: tuple[ItemRef, ...]

    @property
    def items(self) -> set[str]:
        return {r.item for r in self.refs}

    def ratio_parts(self) -> tuple[exp.Expression, exp.Expression] | None:
        """Numerator and denominator when the formula is `numerator / denominator` at the top."""
        top = _unparen(self.tree)
        if isinstance(top, exp.Div):
            return top.this, top.expression
        return None

    def denominators(self) -> list[exp.Expression]:
        return [d.expression for d in self.tree.find_all(exp.Div)]


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _year_offset(index: exp.Expression, source: str) -> int:
    text = index.sql(dialect="duckdb").replace(" ", "")
    if text not in YEAR_OFFSETS:
        raise FormulaError(f"year offset [{index.sql()}] in {source!r} is not allowed; use [T] or [T-1]")
    return YEAR_OFFSETS[text]


def _item_ref(node: exp.Bracket, source: str) -> ItemRef:
    target = node.this
    if not isinstance(target, exp.Column) or target.table or len(node.expressions) != 1:
        raise FormulaError(f"{node.sql()!r} in {source!r} is not an item reference like item[T]")
    return ItemRef(item=target.name, offset=_year_offset(node.expressions[0], source))


def _check_node(node: exp.Expression, source: str, refs: list[ItemRef]) -> None:
    if isinstance(node, exp.Bracket):
        refs.append(_item_ref(node, source))
        return
    if isinstance(node, exp.Literal):
        if node.is_string:
            raise FormulaError(f"text literal {node.sql()} in {source!r} is not allowed")
        return
    if isinstance(node, exp.Column):
        raise FormulaError(f"{node.sql()!r} in {source!r} has no year: write {node.name}[T] or {node.name}[T-1]")
    allowed = ", ".join(sorted(ALLOWED_FUNCTIONS.values()))
    if isinstance(node, exp.Anonymous):
        raise FormulaError(f"unknown function {node.name}() in {source!r}; functions allowed: {allowed}")
    if isinstance(node, exp.Func) and type(node) not in ALLOWED_FUNCTIONS:
        raise FormulaError(f"{node.sql_name()} is not allowed in {source!r}; functions allowed: {allowed}")
    if not isinstance(node, ARITHMETIC) and type(node) not in ALLOWED_FUNCTIONS:
        raise FormulaError(f"{node.sql()!r} in {source!r} is not allowed in a formula")
    for child in node.iter_expressions():
        _check_node(child, source, refs)


def parse_formula(source: str, known_items: set[str] | None = None) -> Formula:
    """Parse and check a formula; with `known_items`, every referenced item must be one of them."""
    try:
        statements = sqlglot.parse(source, dialect="duckdb")
    except (ParseError, TokenError) as err:
        first_line = str(err).splitlines()[0]
        raise FormulaError(f"syntax error in {source!r}: {first_line}") from None
    if len(statements) != 1 or statements[0] is None:
        raise FormulaError(f"{source!r} must be exactly one expression")
    tree = statements[0]
    refs: list[ItemRef] = []
    _check_node(tree, source, refs)
    if not refs:
        raise FormulaError(f"{source!r} uses no item")
    if known_items is not None:
        unknown = sorted({r.item for r in refs} - known_items)
        if unknown:
            raise FormulaError(f"unknown item(s) {', '.join(unknown)} in {source!r}")
    return Formula(source=source, tree=tree, refs=tuple(dict.fromkeys(refs)))


def render_sql(node: exp.Expression, column_for: Callable[[ItemRef], str]) -> str:
    """DuckDB SQL of a (part of a) formula; each item reference becomes `column_for(ref)`.

    Every division is guarded with NULLIF so that a zero denominator yields NULL (the KPI stage
    reports it as `undefined`), never infinity.
    """

    # The tree was checked by parse_formula, so _item_ref cannot fail here and needs no formula text for a
    # message; and `rendered` is this call's own copy, so cast() and sql() need not copy it again (copy=False).
    # That text for every reference and those deep copies were more than half of the KPI stage's rendering time.
    rendered = node.copy()
    if isinstance(rendered, exp.Bracket):
        rendered = exp.column(column_for(_item_ref(rendered, "")), quoted=True)
    for bracket in list(rendered.find_all(exp.Bracket)):
        bracket.replace(exp.column(column_for(_item_ref(bracket, "")), quoted=True))
    for division in reversed(list(rendered.find_all(exp.Div))):  # innermost first
        guarded = exp.Nullif(this=division.expression.copy(), expression=exp.Literal.number(0))
        division.set("expression", guarded)
    return exp.cast(rendered, exp.DataType.Type.DOUBLE, copy=False).sql(dialect="duckdb", copy=False)
