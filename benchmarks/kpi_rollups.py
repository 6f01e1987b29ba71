"""The KPI and rollup stages three ways on the same seeded warehouse: the pipeline's compiled SQL, one
hand-written DuckDB query per table, and plain pandas; used by `make bench` and by test_bench_equivalence.
Here: the pipeline's way, the three ways by name (RUNNERS) and the check that they gave the same rows.

The warehouse is seeded by benchmarks/kpi_warehouse.py (the KPI stage's inputs: staging.participation,
staging.disclosure, quality.member_summary, quality.findings, quality.admitted_answers), at the cycle's size or
`copies` times larger (e.g. sub-national units reporting as members).

Each way writes its two result tables through the same warehouse/writes.py helpers (one transaction per table), so
the figures compare the computations, not the write paths: the pipeline into kpi.kpi_values and
rollup.rollups exactly as its assets do, the others into bench_sql.* and bench_pandas.*.

Neither baseline keeps a copy of the KPIs: both read the catalogue (benchmarks/kpi_series.py), so a new KPI file
needs no edit here. pandas (benchmarks/kpi_pandas.py) evaluates every formula's parsed tree itself (node by node on
columns, not through stages/kpis/compile.py), whatever its shape. The hand-written DuckDB query
(benchmarks/kpi_duckdb.py) knows four forms of formula (k * a[T] / b[T], k * (a[T] - a[T-1]) / a[T-1], a[T],
a level) and is compared on the KPIs whose formulas all have one of them.
"""

import duckdb

from benchmarks.kpi_duckdb import run_duckdb
from benchmarks.kpi_pandas import run_pandas
from benchmarks.kpi_series import hand_sql_kpis
from benchmarks.kpi_warehouse import CYCLE, result_tables
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.kpis.compile import render_kpi_values_sql
from pmm_pipeline.stages.rollups.compute import render_rollups_sql
from pmm_pipeline.warehouse.tables import KPI_VALUES, ROLLUPS
from pmm_pipeline.warehouse.writes import create_tables, replace_cycle_rows_from_sql

# ---------------------------------------------------------------------------------------------- the three ways


def run_pipeline(conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue) -> dict[str, float]:
    """What the compute_kpis and rollups assets do to the warehouse (their SQL and their writes)."""
    cycle = reference.cycles.get(CYCLE)
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    compiled = render_kpi_values_sql(kpis, catalogue.formulas, cycle.reporting_year)
    replace_cycle_rows_from_sql(conn, KPI_VALUES, cycle.id, compiled.sql, {**compiled.params, "cycle": cycle.id})
    compiled = render_rollups_sql(kpis, catalogue.formulas)
    replace_cycle_rows_from_sql(conn, ROLLUPS, cycle.id, compiled.sql, {**compiled.params, "cycle": cycle.id})
    return {}


RUNNERS = {"pipeline": run_pipeline, "duckdb": run_duckdb, "pandas": run_pandas}


# ---------------------------------------------------------------------------------------------- equality


def compared_kpis(implementation: str, catalogue: Catalogue, reference: Reference) -> list[str] | None:
    """The KPIs an implementation is compared on: the hand-written SQL's forms only, or all (None)."""
    if implementation == "duckdb":
        return hand_sql_kpis(catalogue, reference.cycles.get(CYCLE).catalogue_version)
    return None


def differences(
    conn: duckdb.DuckDBPyConnection, implementation: str, kpi_ids: list[str] | None = None, shown: int = 5
) -> list[str]:
    """Rows of the implementation's two tables that are not exactly the pipeline's (both ways), as text;
    with `kpi_ids`, the rows of those KPIs only."""
    problems = []
    for theirs, ours in zip(result_tables(implementation), result_tables("pipeline"), strict=True):
        create_tables(conn, [theirs, ours])
        columns = ", ".join(ours.column_names)
        only = "" if kpi_ids is None else " AND list_contains($kpi_ids, kpi_id)"
        params = {"cycle": CYCLE} if kpi_ids is None else {"cycle": CYCLE, "kpi_ids": kpi_ids or [""]}
        for left, right in ((theirs, ours), (ours, theirs)):
            rows = conn.execute(
                f"SELECT {columns} FROM {left.qualified} WHERE cycle = $cycle{only}"
                f" EXCEPT ALL SELECT {columns} FROM {right.qualified} WHERE cycle = $cycle{only}",
                params,
            ).df()
            if len(rows):
                sample = rows.sort_values(ours.column_names[:5]).head(shown).to_dict("records")
                problems.append(f"{len(rows)} row(s) of {left.qualified} not in {right.qualified}, e.g. {sample}")
    return problems
