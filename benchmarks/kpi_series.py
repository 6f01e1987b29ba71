"""The cycle's KPI series as both baselines of the KPI benchmark read them: from the catalogue (no copy of the
KPIs), each with the hand-written DuckDB query's form of its formula when it has one.

The hand-written query (benchmarks/kpi_duckdb.py) knows four forms of formula (k * a[T] / b[T],
k * (a[T] - a[T-1]) / a[T-1], a[T], a level); pandas (benchmarks/kpi_pandas.py) evaluates every formula's parsed tree.
"""

from dataclasses import dataclass

from sqlglot import exp

from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef
from pmm_pipeline.specs.catalogue.load import Catalogue


@dataclass(frozen=True)
class Series:
    """One KPI series of the cycle's catalogue, as the baselines read it: from the KPI's file and parsed formula.

    `form` is the hand-written SQL's form of the formula when it has one (else None: pandas only): ratio =
    scale * a[T] / b[T]; variation = scale * (a[T] - a[T-1]) / a[T-1]; value = a[T]; level = the score of the
    level answered for a[T]. `parts`: a ratio KPI, whose numerator and denominator are kept.
    """

    kpi_id: str
    series: str
    formula: Formula
    parts: bool
    categorical: bool
    statistics: frozenset[str]
    form: str | None = None
    a: str | None = None
    b: str | None = None
    scale: float = 1.0

    def reads(self, year: int) -> list[tuple[str, int]]:
        """The (item, year) answers the value is computed from."""
        return [(r.item, year + r.offset) for r in self.formula.refs]


def unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def item_ref(node: exp.Expression) -> ItemRef | None:
    """item[T] or item[T-1] as an ItemRef, else None (the tree was checked when the catalogue loaded)."""
    node = unparen(node)
    if not isinstance(node, exp.Bracket):
        return None
    offset = 0 if node.expressions[0].sql().replace(" ", "") == "T" else -1
    return ItemRef(node.this.name, offset)


def _scaled(node: exp.Expression) -> tuple[float, exp.Expression]:
    """`k * x` as (k, x); any other x as (1, x)."""
    node = unparen(node)
    if isinstance(node, exp.Mul) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return float(node.this.this), unparen(node.expression)
    return 1.0, node


def hand_form(formula: Formula, categorical: bool) -> dict[str, object]:
    """The fields of the hand-written SQL's form of a formula, or {} when it has none of them."""
    top = unparen(formula.tree)
    if categorical:
        return {"form": "level", "a": formula.refs[0].item}
    if (ref := item_ref(top)) is not None:
        return {"form": "value", "a": ref.item} if ref.offset == 0 else {}
    if not isinstance(top, exp.Div) or (whole := item_ref(top.expression)) is None:
        return {}
    scale, part = _scaled(top.this)
    if (ref := item_ref(part)) is not None and ref.offset == 0 and whole.offset == 0:
        return {"form": "ratio", "a": ref.item, "b": whole.item, "scale": scale}
    if isinstance(part, exp.Sub) and whole.offset == -1:
        now, before = item_ref(part.this), item_ref(part.expression)
        if now == ItemRef(whole.item, 0) and before == whole:
            return {"form": "variation", "a": whole.item, "scale": scale}
    return {}


def cycle_series(catalogue: Catalogue, version: str) -> list[Series]:
    """Every series of the KPIs of a catalogue version, in catalogue order."""
    return [
        Series(
            kpi.id,
            s.id,
            formula := catalogue.formulas[(kpi.id, s.id)],
            parts=kpi.shape.value == "ratio",
            categorical=kpi.shape.value == "categorical",
            statistics=frozenset(st.value for st in kpi.rollup.statistics),
            **hand_form(formula, kpi.shape.value == "categorical"),
        )
        for kpi in catalogue.kpis_for_version(version)
        for s in kpi.series
    ]


def hand_sql_kpis(catalogue: Catalogue, version: str) -> list[str]:
    """The KPIs the hand-written DuckDB query computes: those whose every series has one of its forms."""
    series = cycle_series(catalogue, version)
    return [k for k in dict.fromkeys(s.kpi_id for s in series) if all(s.form for s in series if s.kpi_id == k)]
