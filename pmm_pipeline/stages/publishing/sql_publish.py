"""Copying a tier's released tables of a cycle into a SQL database (PostgreSQL in production), atomically.

DuckDB stays the compute engine; this is only the last hop, for readers that query a database
server (the PMM platform, dashboards). Each tier has its own schema (`pmm_<tier>`), so database
grants per schema decide who reads what (deploy/postgres_roles.sql). A cycle's rows of every
table of one tier are replaced in ONE transaction (delete the cycle's rows, insert the new ones):
readers see the previous release or the new one, never a mix, and a re-run gives the same rows.
Tables are created from their declaration in warehouse/tables/ when missing, so columns cannot drift.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from pmm_pipeline.warehouse.tables import Table

# DuckDB column types of warehouse/tables/ -> PostgreSQL types (the only ones the declared tables use).
SQL_TYPES = {
    "VARCHAR": "TEXT",
    "DOUBLE": "DOUBLE PRECISION",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
}


def target_schema(tier: str) -> str:
    """The database schema a tier's tables are published to."""
    return f"pmm_{tier}"


@dataclass(frozen=True)
class SqlTable:
    """One table to publish: its declaration (columns, types), where it goes, and the cycle's rows."""

    declared: Table
    schema: str
    rows: pd.DataFrame

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.declared.name}"'

    def render_create(self) -> str:
        columns = ",\n  ".join(f'"{c.name}" {SQL_TYPES[c.type]}' for c in self.declared.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {columns}\n)"


def publish_cycle(engine: sa.Engine, cycle: str, tables: Sequence[SqlTable]) -> dict[str, int]:
    """Replace `cycle`'s rows of every table in one transaction; returns rows written per table.

    Identifiers come from warehouse/tables/ declarations and tier names only, never from data; values are
    bound parameters. Readers in other transactions keep seeing the old rows until the commit.
    """
    written: dict[str, int] = {}
    with engine.begin() as conn:
        for table in tables:
            # In production the schemas exist already (deploy/postgres_roles.sql), and the publisher may not
            # create schemas: even CREATE SCHEMA IF NOT EXISTS needs that privilege, so ask first.
            if not sa.inspect(conn).has_schema(table.schema):
                conn.execute(sa.text(f'CREATE SCHEMA "{table.schema}"'))
            conn.execute(sa.text(table.render_create()))
            # Serialize publishers of the same table; readers are not blocked (MVCC) and see the old rows.
            conn.execute(sa.text(f"LOCK TABLE {table.qualified} IN SHARE ROW EXCLUSIVE MODE"))
            conn.execute(sa.text(f"DELETE FROM {table.qualified} WHERE cycle = :cycle"), {"cycle": cycle})
            records = _records(table)
            if records:
                names = table.declared.column_names
                quoted = ", ".join(f'"{n}"' for n in names)
                binds = ", ".join(f":{n}" for n in names)
                insert = sa.text(f"INSERT INTO {table.qualified} ({quoted}) VALUES ({binds})")
                conn.execute(insert, records)
            written[f"{table.schema}.{table.declared.name}"] = len(records)
    return written


def _records(table: SqlTable) -> list[dict]:
    """The rows as plain Python values (None for missing), in the declared columns."""
    missing = set(table.declared.column_names) - set(table.rows.columns)
    if missing:
        raise ValueError(f"{table.declared.qualified}: rows lack declared columns {sorted(missing)}")
    frame = table.rows[table.declared.column_names].astype(object)
    frame = frame.where(pd.notna(frame), None)
    return [{name: _plain(value) for name, value in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: object) -> object:
    """numpy scalars -> Python scalars (the driver adapts those), pandas timestamps -> datetime."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def read_cycle(engine: sa.Engine, schema: str, table: str, cycle: str) -> pd.DataFrame:
    """A published table's rows of a cycle, as a reader of the database gets them."""
    with engine.connect() as conn:
        return pd.read_sql_query(
            sa.text(f'SELECT * FROM "{schema}"."{table}" WHERE cycle = :cycle'), conn, params={"cycle": cycle}
        )
