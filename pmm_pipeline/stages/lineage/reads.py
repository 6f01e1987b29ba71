"""Reading the warehouse for a trace: table rows as plain Python values (None for SQL NULL)."""

import math

import duckdb
import pandas as pd


# --- cells as plain values ---------------------------------------------------------------------------------------
def given(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return value != ""


def plain(value: object):
    """A cell as a plain Python value, None for SQL NULL (pandas' NaN, NA, NaT)."""
    if not given(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def iso_time(value: object) -> str | None:
    if not given(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.isoformat()


# --- rows of declared tables --------------------------------------------------------------------------------------
def table_names(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    return {f"{s}.{t}" for s, t in rows}


def column_names(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def records(conn: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    frame = conn.execute(sql, params).df()
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def rows(conn, tables: set[str], table, where: str, params: list, columns: str = "*") -> list[dict]:
    """Rows of a declared table (none when the warehouse does not have it yet); `where` is constant SQL text."""
    if table.qualified not in tables:
        return []
    return records(conn, f"SELECT {columns} FROM {table.qualified} WHERE {where}", params)
