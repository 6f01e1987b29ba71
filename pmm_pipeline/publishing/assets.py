"""Dagster wiring of publication: the tier's tables in the warehouse and its release folder with manifest."""

import datetime as dt

import dagster as dg
import pandas as pd

from pmm_pipeline.catalogue.load import Catalogue
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.provenance import catalogue_digest, code_version
from pmm_pipeline.publishing.release import ReleaseInfo, sha256_file, write_release
from pmm_pipeline.reference.load import Reference
from pmm_pipeline.resources.storage import PmmStorage
from pmm_pipeline.resources.warehouse import Warehouse
from pmm_pipeline.tables import (
    KPI_VALUES,
    PUBLISHED_KPI_COLUMNS,
    ROLLUPS,
    append_rows,
    published_tables,
    replace_cycle_rows_from_sql,
)

SECRETARIAT_KPI_VALUES_SQL = f"""
SELECT {", ".join(PUBLISHED_KPI_COLUMNS)} FROM kpi.kpi_values WHERE cycle = $cycle
ORDER BY kpi_id, series, member_code
"""
SECRETARIAT_ROLLUPS_SQL = """
SELECT * FROM rollup.rollups WHERE cycle = $cycle ORDER BY kpi_id, series, group_type, group_code
"""


def build_publishing_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    tier = "secretariat"
    kpi_table, rollup_table, release_table = published_tables(tier)

    @dg.multi_asset(
        name=f"publish_{tier}_tables",
        specs=[table_spec(kpi_table, deps=[KPI_VALUES.key]), table_spec(rollup_table, deps=[ROLLUPS.key])],
        partitions_def=partitions,
        pool="warehouse",
        description=f"Selects what the {tier} tier may see into its own schema.",
    )
    def publish_tables(context: dg.AssetExecutionContext, warehouse: Warehouse):
        cycle_id = context.partition_key
        with warehouse.get_connection() as conn:
            replace_cycle_rows_from_sql(conn, kpi_table, cycle_id, SECRETARIAT_KPI_VALUES_SQL, {"cycle": cycle_id})
            replace_cycle_rows_from_sql(conn, rollup_table, cycle_id, SECRETARIAT_ROLLUPS_SQL, {"cycle": cycle_id})
            for table in (kpi_table, rollup_table):
                yield dg.MaterializeResult(asset_key=table.key, metadata=written_table_metadata(conn, table, cycle_id))

    @dg.asset(
        key=release_table.key,
        description=f"Writes published/<cycle>/{tier}/ (kpi_values and rollups as CSV and Parquet, manifest.json)"
        f" and logs the release; {release_table.row}",
        group_name=release_table.schema,
        deps=[kpi_table.key, rollup_table.key],
        partitions_def=partitions,
        pool="warehouse",
        kinds={"duckdb", "csv", "parquet"},
        owners=table_spec(release_table).owners,
        metadata=table_spec(release_table).metadata,
    )
    def release(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse) -> dg.MaterializeResult:
        cycle = reference.cycles.get(context.partition_key)
        with warehouse.get_connection() as conn:
            tables = {
                table.name: conn.execute(
                    f"SELECT * FROM {table.qualified} WHERE cycle = ? ORDER BY ALL", [cycle.id]
                ).df()
                for table in (kpi_table, rollup_table)
            }
        info = ReleaseInfo(
            cycle=cycle.id,
            tier=tier,
            run_id=context.run_id,
            code_version=code_version(),
            catalogue_version=cycle.catalogue_version,
            catalogue_digest=catalogue_digest(catalogue),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        tier_dir = storage.layout.published_dir(cycle.id) / tier
        manifest = write_release(tier_dir, tables, info)
        log_row = pd.DataFrame(
            [
                {
                    "cycle": cycle.id,
                    "run_id": context.run_id,
                    "released_at": dt.datetime.now(dt.UTC),
                    "path": str(tier_dir),
                    "manifest_sha256": sha256_file(tier_dir / "manifest.json"),
                    "code_version": info.code_version,
                    "catalogue_digest": info.catalogue_digest,
                }
            ]
        )
        with warehouse.get_connection() as conn:
            append_rows(conn, release_table, log_row)
            metadata = written_table_metadata(conn, release_table, cycle.id)
        metadata["release_dir"] = dg.MetadataValue.path(str(tier_dir))
        metadata["files"] = dg.MetadataValue.json(manifest["files"])
        return dg.MaterializeResult(metadata=metadata)

    return [publish_tables, release]
