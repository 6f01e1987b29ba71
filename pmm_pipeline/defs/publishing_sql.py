"""Dagster wiring of the copy of each tier's release into the SQL publication target (if one is configured).

    publish_<tier>.releases ──► publish_<tier>.sql_release   (pmm_<tier>.kpi_values, pmm_<tier>.rollups)
    publish_secretariat.sql_release also copies quality.member_summary and collection.completeness
    (to pmm_quality / pmm_collection: Secretariat readers only, see deploy/postgres_roles.sql).

It runs after the tier's release was audited and switched in, reading the tier's audited tables
(publish_<tier>.*) from DuckDB. With no target configured (PMM_PUBLISH_SQL_URL unset) it writes
nothing and says so in its metadata: which database is used is configuration, not pipeline logic.
"""

import dagster as dg
import duckdb
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.orchestration.resources.sql_target import SqlPublicationTarget
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import require_tables
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.publishing.sql_publish import SqlTable, target_schema
from pmm_pipeline.warehouse.tables import COMPLETENESS, MEMBER_SUMMARY, Table, published_schema, published_tables

SQL_RELEASE = "sql_release"
# Tables copied with the Secretariat tier only: they name members and their quality outcomes.
SECRETARIAT_EXTRAS = ((MEMBER_SUMMARY, "pmm_quality"), (COMPLETENESS, "pmm_collection"))


def sql_release_key(tier: str) -> dg.AssetKey:
    return dg.AssetKey([published_schema(tier), SQL_RELEASE])


def tier_copies(tier: str) -> list[tuple[Table, str]]:
    """(table in DuckDB, database schema it is copied to) for one tier."""
    kpi_table, rollup_table, _ = published_tables(tier)
    copies = [(kpi_table, target_schema(tier)), (rollup_table, target_schema(tier))]
    return copies + (list(SECRETARIAT_EXTRAS) if tier == TIERS[-1] else [])


def build_sql_publication_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    return [_build_tier_asset(tier, partitions) for tier in TIERS]


def _build_tier_asset(tier: str, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    copies = tier_copies(tier)
    release_table = published_tables(tier)[2]

    @dg.asset(
        key=sql_release_key(tier),
        description=f"Copies the {tier} tier's released tables of the cycle into the SQL publication target"
        f" (schema {target_schema(tier)}), all in one transaction, after the release was audited and switched"
        " in; nothing when no target is configured (PMM_PUBLISH_SQL_URL).",
        group_name=release_table.schema,
        deps=[release_table.key, *(table.key for table, _ in copies)],
        partitions_def=partitions,
        kinds={"duckdb", "postgres"},
    )
    def sql_release(
        context: dg.AssetExecutionContext, warehouse: Warehouse, sql_target: SqlPublicationTarget
    ) -> dg.MaterializeResult:
        if not sql_target.configured:
            return dg.MaterializeResult(metadata={"target": "none configured (PMM_PUBLISH_SQL_URL unset)"})
        cycle_id = context.partition_key
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle_id, [table for table, _ in copies])
            tables = [SqlTable(table, schema, _cycle_rows(conn, table, cycle_id)) for table, schema in copies]
        written = sql_target.publish(cycle_id, tables)
        context.log.info(f"copied {sum(written.values())} rows of cycle {cycle_id} to {sql_target.display_url()}")
        return dg.MaterializeResult(
            metadata={
                "target": sql_target.display_url(),
                "rows_written": dg.MetadataValue.json(written),
                "dagster/row_count": dg.MetadataValue.int(sum(written.values())),
            }
        )

    return sql_release


def _cycle_rows(conn: duckdb.DuckDBPyConnection, table: Table, cycle_id: str) -> pd.DataFrame:
    return conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ?", [cycle_id]).df()
