"""Dagster wiring of the KPI stage: one query computes every KPI of the cycle; one view per KPI in the graph."""

import dagster as dg

from pmm_pipeline.orchestration.column_lineage import build_column_lineage, same
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import (
    OWNER,
    column_schema,
    table_name,
    table_spec,
    written_table_metadata,
)
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.kpis.compile import render_kpi_values_sql
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    DISCLOSURE,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PARTICIPATION,
    Table,
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows_from_sql

# The quality gate's outputs: only admitted answers and members, and the findings behind each value's flags.
KPI_INPUTS = [ADMITTED_ANSWERS.key, MEMBER_SUMMARY.key, FINDINGS.key, PARTICIPATION.key, DISCLOSURE.key]


def kpi_view_table(kpi_id: str) -> Table:
    """The view `kpi.<kpi_id>`: kpi.kpi_values' columns, the rows of one KPI."""
    return Table("kpi", kpi_id, f"One row of kpi.kpi_values of KPI {kpi_id}.", KPI_VALUES.columns)


def kpi_view_spec(catalogue: Catalogue, kpi_id: str) -> dg.AssetSpec:
    spec = catalogue.kpis[kpi_id]
    formulas = {s.id: s.formula for s in spec.series}
    return dg.AssetSpec(
        key=["kpi", kpi_id],
        description=f"{spec.names.en}: one row per admitted participating member and series of a cycle"
        f" (a view over kpi.kpi_values). Formula: {'; '.join(f'{k}: {v}' for k, v in formulas.items())}",
        group_name="kpi",
        deps=[KPI_VALUES.key],
        kinds={"duckdb"},
        owners=[OWNER],
        tags={"layer": "kpi", "dimension": str(spec.dimension), "status": spec.status},
        metadata={
            "formulas": dg.MetadataValue.json(formulas),
            "items": dg.MetadataValue.json(sorted(i.code for i in spec.items)),
            "spec_file": dg.MetadataValue.path(str(catalogue.files[kpi_id])),
            "unit": spec.unit,
            "dagster/column_schema": column_schema(KPI_VALUES),
            "dagster/table_name": table_name(kpi_view_table(kpi_id)),
            "dagster/column_lineage": build_column_lineage(same(KPI_VALUES)),
        },
    )


def build_kpi_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="compute_kpis",
        specs=[table_spec(KPI_VALUES, deps=KPI_INPUTS)] + [kpi_view_spec(catalogue, k) for k in sorted(catalogue.kpis)],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        description="Computes every KPI series of the cycle's catalogue for every participating member the"
        " quality gate admitted, flagging values whose answers drew warnings.",
    )
    def compute_kpis(context: dg.AssetExecutionContext, warehouse: Warehouse):
        cycle = reference.cycles.get(context.partition_key)
        kpis = catalogue.kpis_for_version(cycle.catalogue_version)
        compiled = render_kpi_values_sql(kpis, catalogue.formulas, cycle.reporting_year)
        with warehouse.get_connection() as conn:
            replace_cycle_rows_from_sql(
                conn, KPI_VALUES, cycle.id, compiled.sql, {**compiled.params, "cycle": cycle.id}
            )
            yield dg.MaterializeResult(
                asset_key=KPI_VALUES.key, metadata=written_table_metadata(conn, KPI_VALUES, cycle.id)
            )
            counts = conn.execute(
                "SELECT kpi_id, status, count(*) FROM kpi.kpi_values WHERE cycle = ? GROUP BY ALL ORDER BY ALL",
                [cycle.id],
            ).fetchall()
            for kpi_id in sorted(catalogue.kpis):
                # kpi_id is a validated snake_case identifier (KpiSpec.id), safe as a view name and literal.
                conn.execute(
                    f"CREATE OR REPLACE VIEW kpi.{kpi_id} AS SELECT * FROM kpi.kpi_values WHERE kpi_id = '{kpi_id}'"
                )
                by_status = {status: n for k, status, n in counts if k == kpi_id}
                view = kpi_view_table(kpi_id)
                yield dg.MaterializeResult(
                    asset_key=view.key,
                    metadata={
                        **written_table_metadata(conn, view, cycle.id, lineage=same(KPI_VALUES)),
                        "in_cycle_catalogue": kpi_id in {k.id for k in kpis},
                        "values_by_status": dg.MetadataValue.json(by_status),
                    },
                )

    return [compute_kpis]
