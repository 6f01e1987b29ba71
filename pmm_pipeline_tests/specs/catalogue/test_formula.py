"""The formula language: what it accepts, what it refuses and why, and what the compiled SQL computes."""

import duckdb
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pmm_pipeline.specs.catalogue.formula import FormulaError, ItemRef, parse_formula, render_sql


def test_references_are_items_with_year_offsets():
    f = parse_formula("100 * (aeo_count[T] - aeo_count[T-1]) / aeo_count[T-1]", {"aeo_count"})
    assert f.refs == (ItemRef("aeo_count", 0), ItemRef("aeo_count", -1))
    assert f.ratio_parts() is not None


@pytest.mark.parametrize(
    "source,fragment",
    [
        ("x[T+1]", "year offset"),
        ("x[T-2]", "year offset"),
        ("x[2022]", "year offset"),
        ("x", "has no year"),
        ("sum(x[T])", "SUM is not allowed"),
        ("foo(x[T])", "unknown function"),
        ("x[T] +", "syntax error"),
        ("(x[T]", "syntax error"),
        ("x[T] > 1", "not allowed"),
        ("'text'", "text literal"),
        ("x[T]; x[T]", "exactly one expression"),
        ("y[T]", "unknown item"),
        ("1 + 2", "uses no item"),
        ("x[T][T]", "not an item reference"),
        ("CASE WHEN x[T] = 0 THEN 1 END", "CASE is not allowed"),
    ],
)
def test_refused_formulas_say_why(source, fragment):
    with pytest.raises(FormulaError, match=fragment):
        parse_formula(source, {"x"})


def evaluate(source: str, values: dict[ItemRef, float | None]) -> float | None:
    formula = parse_formula(source)
    columns = {ref: f"c{i}" for i, ref in enumerate(sorted(values))}
    sql = render_sql(formula.tree, lambda ref: columns[ref])
    select = ", ".join(f"${columns[r]}::DOUBLE AS {columns[r]}" for r in columns)
    params = {columns[r]: v for r, v in values.items()}
    return duckdb.sql(f"SELECT {sql} FROM (SELECT {select})", params=params).fetchall()[0][0]


def test_zero_denominator_yields_null_not_infinity():
    a, b = ItemRef("a", 0), ItemRef("b", 0)
    assert evaluate("100 * a[T] / b[T]", {a: 5.0, b: 0.0}) is None
    assert evaluate("a[T] / (b[T] / a[T])", {a: 0.0, b: 3.0}) is None  # inner zero, nested division
    assert evaluate("100 * a[T] / b[T]", {a: 1.0, b: 4.0}) == 25.0


def test_functions_compile():
    a, b = ItemRef("a", 0), ItemRef("b", -1)
    assert evaluate("least(abs(a[T] - b[T-1]), 10)", {a: 3.0, b: 20.0}) == 10.0
    assert evaluate("greatest(a[T], b[T-1])", {a: 3.0, b: 20.0}) == 20.0


def test_values_are_parameters_not_sql_text():
    formula = parse_formula("100 * a[T] / b[T-1]")
    sql = render_sql(formula.tree, lambda ref: f"col_{ref.item}_{-ref.offset}")
    assert '"col_a_0"' in sql and '"col_b_1"' in sql and "[T" not in sql


numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def expressions(draw, depth=0):
    """A random formula over a[T], b[T], c[T-1] with the Python value it must compute."""
    env = {"a[T]": draw(numbers), "b[T]": draw(numbers), "c[T-1]": draw(numbers)}

    def build(level):
        if level > 2 or draw(st.booleans()):
            leaf = draw(st.sampled_from([*env, "literal"]))
            if leaf == "literal":
                n = draw(st.integers(min_value=1, max_value=1000))
                return str(n), float(n)
            return leaf, env[leaf]
        op = draw(st.sampled_from(["+", "-", "*", "/", "abs"]))
        left_src, left = build(level + 1)
        if op == "abs":
            return f"abs({left_src})", None if left is None else abs(left)
        right_src, right = build(level + 1)
        if left is None or right is None:
            value = None
        elif op == "/":
            value = None if right == 0 else left / right
        else:
            value = {"+": left + right, "-": left - right, "*": left * right}[op]
        return f"({left_src} {op} {right_src})", value

    source, value = build(0)
    return source, env, value


@settings(max_examples=200, deadline=None)
@given(expressions())
def test_compiled_sql_computes_what_python_computes(case):
    source, env, expected = case
    assume("[" in source)  # a formula must use at least one item
    formula = parse_formula(source)
    refs = {"a[T]": ItemRef("a", 0), "b[T]": ItemRef("b", 0), "c[T-1]": ItemRef("c", -1)}
    values = {refs[k]: v for k, v in env.items() if refs[k] in formula.refs}
    actual = evaluate(source, values)
    if expected is None:
        assert actual is None
    else:
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9)
