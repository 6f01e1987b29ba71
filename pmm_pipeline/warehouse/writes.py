"""Writing the declared tables: created when missing, a cycle's rows replaced in one transaction, logs appended."""

from collections.abc import Sequence

import duckdb
import pandas as pd

from pmm_pipeline.warehouse.tables import Table


def create_tables(conn: duckdb.DuckDBPyConnection, tables: Sequence[Table]) -> None:
    for schema in sorted({t.schema for t in tables}):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in tables:
        conn.execute(table.render_create())
        # A warehouse made before a column was added gets it (inserts go by column name).
        for column in table.columns:
            conn.execute(f"ALTER TABLE {table.qualified} ADD COLUMN IF NOT EXISTS {column.name} {column.type}")


def replace_cycle_rows(conn: duckdb.DuckDBPyConnection, table: Table, cycle: str, rows: pd.DataFrame) -> int:
    """Replace the cycle's rows of a table with `rows` in one transaction; returns the row count.

    `rows` is registered under a private name (never found by DuckDB's replacement scan) and
    inserted by column name, so column order in the frame does not matter.
    """
    create_tables(conn, [table])
    missing = set(table.column_names) - set(rows.columns)
    if missing:
        raise ValueError(f"rows for {table.qualified} lack column(s) {sorted(missing)}")
    conn.register("_incoming_rows", rows[table.column_names])
    try:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(f"DELETE FROM {table.qualified} WHERE cycle = ?", [cycle])
        conn.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM _incoming_rows")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_incoming_rows")
    return len(rows)


def replace_cycle_rows_of_tables(
    conn: duckdb.DuckDBPyConnection, cycle: str, rows_by_table: Sequence[tuple[Table, pd.DataFrame]]
) -> None:
    """Replace the cycle's rows of several tables in one transaction, so readers never see them disagree."""
    create_tables(conn, [table for table, _ in rows_by_table])
    for table, rows in rows_by_table:
        missing = set(table.column_names) - set(rows.columns)
        if missing:
            raise ValueError(f"rows for {table.qualified} lack column(s) {sorted(missing)}")
    conn.execute("BEGIN TRANSACTION")
    try:
        for table, rows in rows_by_table:
            conn.register("_incoming_rows", rows[table.column_names])
            try:
                conn.execute(f"DELETE FROM {table.qualified} WHERE cycle = ?", [cycle])
                conn.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM _incoming_rows")
            finally:
                conn.unregister("_incoming_rows")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def append_rows(conn: duckdb.DuckDBPyConnection, table: Table, rows: pd.DataFrame) -> None:
    """Append rows to a log table (a tier's releases), creating it when missing. A row whose key (the table's
    declared row key) is on record already replaces it, in one transaction: a step retried within its run logs
    its release once, as the key declares and the row-key check requires."""
    create_tables(conn, [table])
    conn.register("_incoming_rows", rows[table.column_names])
    try:
        conn.execute("BEGIN TRANSACTION")
        try:
            if table.row_key:
                same_key = " AND ".join(f"{table.name}.{c} IS NOT DISTINCT FROM i.{c}" for c in table.row_key)
                conn.execute(f"DELETE FROM {table.qualified} USING _incoming_rows AS i WHERE {same_key}")
            conn.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM _incoming_rows")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.unregister("_incoming_rows")


def replace_cycle_rows_from_sql(
    conn: duckdb.DuckDBPyConnection, table: Table, cycle: str, select_sql: str, params: dict
) -> int:
    """Replace the cycle's rows of a table with the result of a SELECT (columns in table order)."""
    create_tables(conn, [table])
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {table.qualified} WHERE cycle = $cycle", {"cycle": cycle})
        conn.execute(f"INSERT INTO {table.qualified} ({', '.join(table.column_names)}) {select_sql}", params)
        count = conn.execute(
            f"SELECT count(*) FROM {table.qualified} WHERE cycle = $cycle", {"cycle": cycle}
        ).fetchall()[0][0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return count
