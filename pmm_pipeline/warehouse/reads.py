"""Reading the declared tables: whether the warehouse holds one yet (a step's inputs may not exist before their
first run, a warehouse rebuilt from the archive holds only what has been computed again)."""

import duckdb

from pmm_pipeline.warehouse.tables import Table


def table_exists(conn: duckdb.DuckDBPyConnection, table: Table) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [table.schema, table.name],
    ).fetchall()[0][0]
    return bool(found)
