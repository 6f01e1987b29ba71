"""Dagster wiring of lineage: lineage.provenance, the chain from each KPI value to the cells it was computed from."""

import dagster as dg

from pmm_pipeline.core.provenance import code_version
from pmm_pipeline.orchestration.metadata import bound_metadata
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import markdown_table, require_tables, table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.lineage.provenance import formula_refs, write_provenance
from pmm_pipeline.stages.lineage.summary import CycleTraceSummary, summarize_cycle
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PROVENANCE,
    SUBMISSIONS,
    WITHHELD,
)

# Rows of each summary table shown in the UI (the cut is noted there): a cycle of 186 members has
# thousands of values without a number; the whole list is in lineage.provenance and `pmm trace`.
SHOWN_ROWS = 50


def trace_metadata(summary: CycleTraceSummary, cycle_id: str) -> dict[str, dg.MetadataValue]:
    """What `pmm trace` says about the cycle's values, in brief (stages/lineage/summary.py), as UI metadata."""
    return {
        "trace/values_by_status": dg.MetadataValue.json(summary.by_status),
        "trace/by_kpi_series": dg.MetadataValue.md(markdown_table(summary.by_series, SHOWN_ROWS)),
        "trace/without_number": dg.MetadataValue.md(markdown_table(summary.without_number, SHOWN_ROWS)),
        # The same as JSON, the first 500 (summary.LISTED): a program reads them without parsing markdown.
        "trace/without_number_list": dg.MetadataValue.json(summary.without_number.to_dict("records")),
        "trace/without_number_count": dg.MetadataValue.int(summary.n_without_number),
        "trace/blocking_findings": dg.MetadataValue.md(markdown_table(summary.blocked_members, SHOWN_ROWS)),
        "trace/one_value": dg.MetadataValue.text(
            f"pmm trace --cycle {cycle_id} --member <member> --kpi <kpi> [--json] (docs/auditors.md)"
        ),
    }


def build_lineage_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    # After disclosure.withheld: the summary says what each tier shows of the values or why it withholds them.
    spec = table_spec(
        PROVENANCE,
        deps=[KPI_VALUES.key, ADMITTED_ANSWERS.key, SUBMISSIONS.key, FINDINGS.key, MEMBER_SUMMARY.key, WITHHELD.key],
    )

    @dg.asset(
        key=spec.key,
        description=spec.description,
        group_name=spec.group_name,
        deps=[d.asset_key for d in spec.deps],
        partitions_def=partitions,
        kinds={"duckdb"},
        owners=spec.owners,
        tags=spec.tags,
        metadata=spec.metadata,
    )
    def provenance(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        cycle = reference.cycles.get(context.partition_key)
        kpis = catalogue.kpis_for_version(cycle.catalogue_version)
        refs = formula_refs(kpis, catalogue)
        with warehouse.get_connection() as conn:
            require_tables(
                conn, cycle.id, [KPI_VALUES, ADMITTED_ANSWERS, SUBMISSIONS, FINDINGS, MEMBER_SUMMARY, WITHHELD]
            )
            write_provenance(
                conn,
                cycle.id,
                refs,
                context.run_id,
                code_version(),
                cycle.catalogue_version,
                catalogue_digest(catalogue),
            )
            metadata = written_table_metadata(conn, PROVENANCE, cycle.id)
            summary = summarize_cycle(conn, cycle.id, {k.id: [s.id for s in k.series] for k in kpis})
        return dg.MaterializeResult(metadata=bound_metadata(metadata | trace_metadata(summary, cycle.id)))

    return [provenance]
