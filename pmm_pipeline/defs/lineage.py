"""Dagster wiring of lineage: lineage.provenance, the chain from each KPI value to the cells it was computed from."""

import dagster as dg

from pmm_pipeline.core.provenance import code_version
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import require_tables, table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.lineage.provenance import formula_refs, write_provenance
from pmm_pipeline.warehouse.tables import ADMITTED_ANSWERS, FINDINGS, KPI_VALUES, PROVENANCE, SUBMISSIONS


def build_lineage_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    spec = table_spec(PROVENANCE, deps=[KPI_VALUES.key, ADMITTED_ANSWERS.key, SUBMISSIONS.key, FINDINGS.key])

    @dg.asset(
        key=spec.key,
        description=spec.description,
        group_name=spec.group_name,
        deps=[d.asset_key for d in spec.deps],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        owners=spec.owners,
        tags=spec.tags,
        metadata=spec.metadata,
    )
    def provenance(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        cycle = reference.cycles.get(context.partition_key)
        refs = formula_refs(catalogue.kpis_for_version(cycle.catalogue_version), catalogue)
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle.id, [KPI_VALUES, ADMITTED_ANSWERS, SUBMISSIONS, FINDINGS])
            write_provenance(
                conn,
                cycle.id,
                refs,
                context.run_id,
                code_version(),
                cycle.catalogue_version,
                catalogue_digest(catalogue),
            )
            return dg.MaterializeResult(metadata=written_table_metadata(conn, PROVENANCE, cycle.id))

    return [provenance]
