"""Dagster wiring of staging: latest versions, participation and disclosure choices of a cycle."""

import dagster as dg

from pmm_pipeline.core.vocabulary import DEFAULT_DISCLOSURE
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.staging.select import DISCLOSURE_SQL, PARTICIPATION_SQL, STAGED_ANSWERS_SQL, membership_frame
from pmm_pipeline.warehouse.tables import (
    DISCLOSURE,
    PARTICIPATION,
    RAW_ANSWERS,
    RAW_DISCLOSURE,
    STAGED_ANSWERS,
    SUBMISSIONS,
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows_from_sql


def build_staging_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="stage_latest_versions",
        specs=[
            table_spec(PARTICIPATION, deps=[SUBMISSIONS.key]),
            table_spec(STAGED_ANSWERS, deps=[RAW_ANSWERS.key, SUBMISSIONS.key]),
            table_spec(DISCLOSURE, deps=[RAW_DISCLOSURE.key, PARTICIPATION.key]),
        ],
        partitions_def=partitions,
        description="Selects the latest accepted version of each member, binds members to the groups in force"
        " for the cycle and completes every member's disclosure choices.",
    )
    def stage_latest_versions(context: dg.AssetExecutionContext, warehouse: Warehouse):
        cycle = reference.cycles.get(context.partition_key)
        kpi_ids = [k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)]
        with warehouse.get_connection() as conn:
            conn.register("_members_in_force", membership_frame(reference, cycle))
            try:
                replace_cycle_rows_from_sql(conn, PARTICIPATION, cycle.id, PARTICIPATION_SQL, {"cycle": cycle.id})
            finally:
                conn.unregister("_members_in_force")
            replace_cycle_rows_from_sql(conn, STAGED_ANSWERS, cycle.id, STAGED_ANSWERS_SQL, {"cycle": cycle.id})
            replace_cycle_rows_from_sql(
                conn,
                DISCLOSURE,
                cycle.id,
                DISCLOSURE_SQL,
                {"cycle": cycle.id, "kpi_ids": kpi_ids, "default_disclosure": DEFAULT_DISCLOSURE},
            )
            participating, in_force = conn.execute(
                "SELECT count(*) FILTER (WHERE is_participating), count(*)"
                f" FROM {PARTICIPATION.qualified} WHERE cycle = ?",
                [cycle.id],
            ).fetchall()[0]
            for table in (PARTICIPATION, STAGED_ANSWERS, DISCLOSURE):
                metadata = written_table_metadata(conn, table, cycle.id)
                if table is PARTICIPATION:
                    metadata["members_in_force"] = dg.MetadataValue.int(in_force)
                    metadata["members_participating"] = dg.MetadataValue.int(participating)
                yield dg.MaterializeResult(asset_key=table.key, metadata=metadata)

    return [stage_latest_versions]
