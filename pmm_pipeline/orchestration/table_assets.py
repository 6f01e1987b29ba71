"""Builders shared by every stage: an AssetSpec from a table declaration, and the metadata of a written table.

Every table asset shows, on its definition and on each materialization, its column schema (warehouse/tables/)
and column lineage (orchestration/column_lineage.py); each materialization adds its row count and a preview.
"""

from collections.abc import Sequence

import dagster as dg
import duckdb

from pmm_pipeline.orchestration.column_lineage import Lineage, build_column_lineage, column_lineage_of
from pmm_pipeline.orchestration.metadata import MAX_TABLE_ROWS, bound_metadata, markdown_cell
from pmm_pipeline.warehouse.tables import Table

OWNER = "team:pmm-secretariat-data"


def table_spec(table: Table, deps: Sequence[dg.AssetKey | Sequence[str]] = (), **kwargs) -> dg.AssetSpec:
    """The AssetSpec of a warehouse table: key `[schema, table]`, group = layer, description = one row."""
    return dg.AssetSpec(
        key=table.key,
        description=table.row,
        group_name=table.schema,
        deps=[d if isinstance(d, dg.AssetKey) else dg.AssetKey(list(d)) for d in deps],
        kinds={"duckdb"},
        owners=[OWNER],
        tags={"layer": table.schema},
        metadata={
            "dagster/column_schema": column_schema(table),
            "dagster/column_lineage": column_lineage_of(table),
            "dagster/table_name": table_name(table),
        },
        **kwargs,
    )


def table_name(table: Table) -> str:
    """The name the UI shows for a warehouse table, and how a test maps an asset to the table its SQL names."""
    return f"{TABLE_NAME_PREFIX}{table.qualified}"


TABLE_NAME_PREFIX = "warehouse."


def require_tables(
    conn: duckdb.DuckDBPyConnection, cycle: str, tables: Sequence[Table], with_rows: Sequence[Table] = ()
) -> None:
    """Fail the step, naming them, when upstream tables are missing (or hold no rows for the cycle)."""
    existing = set(conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
    missing = [t.qualified for t in (*tables, *with_rows) if (t.schema, t.name) not in existing]
    missing += [
        t.qualified
        for t in with_rows
        if t.qualified not in missing
        and not conn.execute(f"SELECT count(*) FROM {t.qualified} WHERE cycle = ?", [cycle]).fetchall()[0][0]
    ]
    if missing:
        raise dg.Failure(
            description=f"cycle {cycle}: {', '.join(missing)} not materialized for this cycle yet;"
            " materialize the upstream assets first (e.g. launch cycle_job for this partition)",
            metadata={"missing": dg.MetadataValue.json(missing), "cycle": cycle},
            allow_retries=False,
        )


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in table.columns])


def written_table_metadata(
    conn: duckdb.DuckDBPyConnection, table: Table, cycle: str, preview_rows: int = 10, lineage: Lineage | None = None
) -> dict[str, dg.MetadataValue]:
    """Row count, column schema, column lineage (declared, or `lineage`) and a preview of the cycle's rows.

    Shown in the UI for each materialization; every table asset of every stage reports these four,
    bounded (orchestration/metadata.py): cells cut and escaped, the whole under the cap of one event.
    """
    count = conn.execute(f"SELECT count(*) FROM {table.qualified} WHERE cycle = ?", [cycle]).fetchall()[0][0]
    preview = conn.execute(
        f"SELECT * FROM {table.qualified} WHERE cycle = ? ORDER BY ALL LIMIT {int(preview_rows)}", [cycle]
    ).df()
    return bound_metadata(
        {
            "dagster/row_count": dg.MetadataValue.int(int(count)),
            "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(table)),
            "dagster/column_lineage": dg.MetadataValue.column_lineage(
                column_lineage_of(table) if lineage is None else build_column_lineage(lineage)
            ),
            "preview": dg.MetadataValue.md(markdown_table(preview)),
        }
    )


def markdown_table(frame, max_rows: int = MAX_TABLE_ROWS) -> str:
    """A markdown table of `frame`'s first rows; every cell cut and escaped, as members wrote some of them."""
    if frame.empty:
        return "(no rows)"
    header = "| " + " | ".join(markdown_cell(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in frame.head(max_rows).itertuples(index=False)
    ]
    if len(frame) > max_rows:
        body.append(f"\n… {len(frame) - max_rows:,} more rows not shown")
    return "\n".join([header, rule, *body])
