"""What the publishing steps read of a cycle from the warehouse: its truth (the unsuppressed facts disclosure control
decides on and the audit checks against), its values and group memberships, a tier's tables.

The steps check first that the tables are there (require_tables in orchestration/table_assets.py): a missing
table fails the step with a Dagster Failure, and stages do not import Dagster.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.disclosure.facts import SeriesFacts, load_series_facts
from pmm_pipeline.stages.disclosure.record import with_history
from pmm_pipeline.stages.rollups.compute import GROUPS_CTE
from pmm_pipeline.warehouse.reads import table_exists
from pmm_pipeline.warehouse.tables import KPI_VALUES, PARTICIPATION, ROLLUPS, Table, published_tables

MEMBERSHIPS_SQL = f"""
WITH participants AS (
    SELECT * FROM {PARTICIPATION.qualified} WHERE cycle = $cycle AND is_participating
),
{GROUPS_CTE.strip()}
SELECT member_code, group_type, group_code FROM groups
"""

# What load_truth reads: every asset that calls it depends on these (a test checks deps against the SQL run).
TRUTH_INPUTS = (KPI_VALUES, ROLLUPS, PARTICIPATION)


def categorical_levels(kpis: Sequence[KpiSpec], catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """Level codes of each categorical KPI, as stages/rollups/compute.py rolls them up."""
    items = {k.id: k.item(catalogue.formulas[(k.id, k.series[0].id)].refs[0].item) for k in kpis}
    return {k.id: tuple(lv.code for lv in items[k.id].answer_levels) for k in kpis if k.shape == Shape.categorical}


def cycle_levels(catalogue: Catalogue, cycle: Cycle) -> dict[str, tuple[str, ...]]:
    """categorical_levels of the KPIs of the cycle's catalogue version."""
    return categorical_levels(catalogue.kpis_for_version(cycle.catalogue_version), catalogue)


@dataclass(frozen=True)
class CycleTruth:
    """The unsuppressed facts of a cycle that disclosure control decides on and the audit checks against."""

    values: pd.DataFrame
    rollups: pd.DataFrame
    facts: list[SeriesFacts]


def load_values(conn: duckdb.DuckDBPyConnection, cycle_id: str) -> pd.DataFrame:
    """The cycle's KPI values, sorted: the KPI stage writes its rows unsorted, and disclosure decisions must not
    depend on that order."""
    return conn.execute(
        f"SELECT * FROM {KPI_VALUES.qualified} WHERE cycle = ? ORDER BY kpi_id, series, member_code", [cycle_id]
    ).df()


def load_memberships(conn: duckdb.DuckDBPyConnection, cycle_id: str) -> pd.DataFrame:
    """member_code, group_type, group_code of every participant of the cycle, as the rollups group them."""
    return conn.execute(MEMBERSHIPS_SQL, {"cycle": cycle_id}).df()


def load_truth(
    conn: duckdb.DuckDBPyConnection, cycle_id: str, levels: dict[str, tuple[str, ...]], history: dict | None = None
) -> CycleTruth:
    """The cycle's unsuppressed facts; with `history`, every earlier release of each series is attached to it."""
    values = load_values(conn, cycle_id)
    rollups = conn.execute(f"SELECT * FROM {ROLLUPS.qualified} WHERE cycle = ?", [cycle_id]).df()
    memberships = load_memberships(conn, cycle_id)
    facts = load_series_facts(values, memberships, rollups, levels)
    return CycleTruth(values, rollups, with_history(facts, history or {}))


def load_cycle_rows(conn: duckdb.DuckDBPyConnection, table: Table, cycle_id: str) -> pd.DataFrame:
    """The cycle's rows of a table, in the order the warehouse gives them."""
    return conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ?", [cycle_id]).df()


def load_tier_tables(conn: duckdb.DuckDBPyConnection, tier: str, cycle_id: str) -> dict[str, pd.DataFrame]:
    """The tier's kpi_values and rollups of the cycle by table name, sorted on every column (what a release writes)."""
    return {
        table.name: conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ? ORDER BY ALL", [cycle_id]).df()
        for table in published_tables(tier)[:2]
    }


def load_optional_table(conn: duckdb.DuckDBPyConnection, table: Table, cycle_id: str) -> pd.DataFrame | None:
    """The cycle's rows of a table sorted on every column, or None when the warehouse has no such table."""
    exists = table_exists(conn, table)
    return (
        conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ? ORDER BY ALL", [cycle_id]).df()
        if exists
        else None
    )
