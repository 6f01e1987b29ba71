"""Dagster wiring of lineage: lineage.provenance, the chain from each KPI value to the cells it was computed from."""

import dagster as dg

from pmm_pipeline.catalogue.load import Catalogue
from pmm_pipeline.lineage.provenance import formula_refs, write_provenance
from pmm_pipeline.orchestration.table_assets import require_tables, table_spec, written_table_metadata
from pmm_pipeline.provenance import catalogue_digest, code_version
from pmm_pipeline.reference.load import Reference
from pmm_pipeline.resources.warehouse import Warehouse
from pmm_pipeline.tables import ADMITTED_ANSWERS, FINDINGS, KPI_VALUES, PROVENANCE, SUBMISSIONS


def _deps(table, *names: str) -> list[dg.TableColumnDep]:
    return [dg.TableColumnDep(asset_key=dg.AssetKey(table.key), column_name=n) for n in names]


def column_lineage() -> dg.TableColumnLineage:
    """Where each column of lineage.provenance comes from (constants of the run have no upstream column)."""
    from_values = {c: _deps(KPI_VALUES, c) for c in ("cycle", "reporting_year", "member_code", "kpi_id", "series")}
    from_answers = {
        "answer_value": _deps(ADMITTED_ANSWERS, "value"),
        "answer_value_text": _deps(ADMITTED_ANSWERS, "value_text"),
        "answer_status": _deps(ADMITTED_ANSWERS, "status"),
        "year": _deps(KPI_VALUES, "reporting_year"),
        **{c: _deps(ADMITTED_ANSWERS, c) for c in ("source_file", "source_pointer", "source_sheet", "source_cell",
                                                   "source_line")},
    }
    return dg.TableColumnLineage(
        deps_by_column={
            **from_values,
            "kpi_value": _deps(KPI_VALUES, "value"),
            "kpi_status": _deps(KPI_VALUES, "status"),
            **from_answers,
            "submission_id": _deps(KPI_VALUES, "submission_id"),
            "submission_version": _deps(SUBMISSIONS, "version"),
            "submitted_at": _deps(SUBMISSIONS, "submitted_at"),
            "archive_path": _deps(SUBMISSIONS, "archive_path"),
            "rules_flagged": _deps(FINDINGS, "rule"),
        }
    )


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
        pool="warehouse",
        kinds={"duckdb"},
        owners=spec.owners,
        tags=spec.tags,
        metadata={**spec.metadata, "dagster/column_lineage": column_lineage()},
    )
    def provenance(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        cycle = reference.cycles.get(context.partition_key)
        refs = formula_refs(catalogue.kpis_for_version(cycle.catalogue_version), catalogue)
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle.id, [KPI_VALUES, ADMITTED_ANSWERS, SUBMISSIONS, FINDINGS])
            write_provenance(
                conn, cycle.id, refs, context.run_id, code_version(), cycle.catalogue_version,
                catalogue_digest(catalogue),
            )
            metadata = written_table_metadata(conn, PROVENANCE, cycle.id)
        metadata["dagster/column_lineage"] = column_lineage()
        return dg.MaterializeResult(metadata=metadata)

    return [provenance]
