"""Cheap digests of warehouse content for reuse keys (core/reuse.py): one aggregate query per table, in DuckDB."""

from collections.abc import Sequence

import duckdb

from pmm_pipeline.warehouse.reads import table_exists
from pmm_pipeline.warehouse.tables import Table

ABSENT = "absent"


def table_digest(
    conn: duckdb.DuckDBPyConnection, table: Table, cycles: Sequence[str], absent_as_empty: bool = False
) -> str:
    """Row count and the sum of the rows' hashes over the given cycles: independent of row order, and changed by
    any change of a value, a row added or a row removed. DuckDB's own 64-bit row hash, summed in 128 bits: a
    change detector for reuse, not a seal against tampering (releases are sealed by their SHA-256 manifests).
    `absent_as_empty`: a table not created yet reads as no rows (other cycles' rows of a step's own table).
    """
    if not table_exists(conn, table):
        return "0:0" if absent_as_empty else ABSENT
    count, total = conn.execute(
        f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {table.qualified} AS t"
        " WHERE list_contains(?, t.cycle)",
        [list(cycles)],
    ).fetchall()[0]
    return f"{count}:{total}"
