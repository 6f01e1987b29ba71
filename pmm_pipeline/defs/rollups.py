"""Dagster wiring of the rollups: group statistics of every KPI series of a cycle."""

import dagster as dg

from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.rollups.compute import render_rollups_sql
from pmm_pipeline.warehouse.tables import KPI_VALUES, PARTICIPATION, ROLLUPS
from pmm_pipeline.warehouse.writes import replace_cycle_rows_from_sql


def build_rollup_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=ROLLUPS.key,
        description=ROLLUPS.row,
        group_name="rollup",
        deps=[KPI_VALUES.key, PARTICIPATION.key],
        partitions_def=partitions,
        kinds={"duckdb"},
        metadata=table_spec(ROLLUPS).metadata,
        owners=table_spec(ROLLUPS).owners,
    )
    def rollups(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        cycle = reference.cycles.get(context.partition_key)
        compiled = render_rollups_sql(catalogue.kpis_for_version(cycle.catalogue_version), catalogue.formulas)
        with warehouse.get_connection() as conn:
            replace_cycle_rows_from_sql(conn, ROLLUPS, cycle.id, compiled.sql, {**compiled.params, "cycle": cycle.id})
            return dg.MaterializeResult(metadata=written_table_metadata(conn, ROLLUPS, cycle.id))

    return [rollups]
