"""Dagster wiring of the KPI stage: one query computes every KPI of the cycle, and one view per KPI is kept over it.

The views (`kpi.<kpi_id>`, the rows of one KPI) are created by the same step and listed in kpi.kpi_values'
metadata rather than being assets of their own: 22 assets that only mirror kpi_values added 22
materializations to every run's event log and nothing a reader could not see on kpi_values.
"""

import dagster as dg

from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
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
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows_from_sql

# The quality gate's outputs: only admitted answers and members, and the findings behind each value's flags.
KPI_INPUTS = [ADMITTED_ANSWERS.key, MEMBER_SUMMARY.key, FINDINGS.key, PARTICIPATION.key, DISCLOSURE.key]


def kpi_view_name(kpi_id: str) -> str:
    """The view over kpi.kpi_values holding one KPI's rows."""
    return f"{KPI_VALUES.schema}.{kpi_id}"


def kpi_views_metadata(catalogue: Catalogue) -> dg.JsonMetadataValue:
    """Per KPI of the catalogue: its view, formulas, items and spec file (the definition's metadata)."""
    return dg.MetadataValue.json(
        {
            kpi_id: {
                "view": kpi_view_name(kpi_id),
                "name": spec.names.en,
                "formulas": {s.id: s.formula for s in spec.series},
                "items": sorted(i.code for i in spec.items),
                "unit": spec.unit,
                "dimension": str(spec.dimension),
                "status": spec.status,
                "spec_file": str(catalogue.files[kpi_id]),
            }
            for kpi_id, spec in sorted(catalogue.kpis.items())
        }
    )


def build_kpi_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="compute_kpis",
        specs=[
            table_spec(KPI_VALUES, deps=KPI_INPUTS).merge_attributes(
                metadata={"kpi_views": kpi_views_metadata(catalogue)}
            )
        ],
        partitions_def=partitions,
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
            counts = conn.execute(
                f"SELECT kpi_id, status, count(*) FROM {KPI_VALUES.qualified}"
                " WHERE cycle = ? GROUP BY ALL ORDER BY ALL",
                [cycle.id],
            ).fetchall()
            for kpi_id in sorted(catalogue.kpis):
                # kpi_id is a validated snake_case identifier (KpiSpec.id), safe as a view name and literal.
                conn.execute(
                    f"CREATE OR REPLACE VIEW {kpi_view_name(kpi_id)} AS"
                    f" SELECT * FROM {KPI_VALUES.qualified} WHERE kpi_id = '{kpi_id}'"
                )
            in_cycle = {k.id for k in kpis}
            views = {
                kpi_view_name(kpi_id): {
                    "in_cycle_catalogue": kpi_id in in_cycle,
                    "values_by_status": {status: n for k, status, n in counts if k == kpi_id},
                }
                for kpi_id in sorted(catalogue.kpis)
            }
            metadata = written_table_metadata(conn, KPI_VALUES, cycle.id)
        return dg.MaterializeResult(metadata={**metadata, "kpi_views": dg.MetadataValue.json(views)})

    return [compute_kpis]
