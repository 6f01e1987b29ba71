"""The warehouse's tables: one declaration per table (schema, columns, what one row is), used by every stage.

Asset keys equal `[schema, table]`; asset descriptions and column schemas shown in the Dagster UI
come from here, so the documentation cannot drift from the DDL.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    row: str  # what one row is, shown as the asset description
    columns: tuple[Column, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def key(self) -> list[str]:
        return [self.schema, self.name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def render_create(self) -> str:
        cols = ",\n  ".join(f"{c.name} {c.type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {cols}\n)"


def C(name: str, type_: str, description: str) -> Column:  # noqa: N802 - reads as a table literal
    return Column(name, type_, description)


SOURCE_COLUMNS = (
    C("source_file", "VARCHAR", "name of the file the answer came from"),
    C("source_pointer", "VARCHAR", "JSON pointer of the answer in a JSON file"),
    C("source_sheet", "VARCHAR", "sheet of the answer in an Excel questionnaire"),
    C("source_cell", "VARCHAR", "cell of the answer in an Excel questionnaire"),
    C("source_line", "INTEGER", "line of the answer in a CSV export"),
)
ANSWER_COLUMNS = (
    C("item", "VARCHAR", "questionnaire item code"),
    C("year", "INTEGER", "calendar year the answer describes (T or T-1)"),
    C("value", "DOUBLE", "the number answered (the level's score for level items); NULL unless reported"),
    C("value_text", "VARCHAR", "the level code for level and yes/no items"),
    C("status", "VARCHAR", "reported, not_applicable or not_available"),
    C("comment", "VARCHAR", "the member's comment or justification"),
)

RECEIVED_FILES = Table(
    "raw",
    "received_files",
    "One file version received for a cycle: a file name in landing/<cycle>/ and the SHA-256 of its bytes,"
    " with when it was first seen and where its immutable copy is archived.",
    (
        C("cycle", "VARCHAR", "cycle id of the landing folder"),
        C("sha256", "VARCHAR", "SHA-256 of the file's bytes"),
        C("file_name", "VARCHAR", "name of the file in the landing folder"),
        C("size_bytes", "BIGINT", "size of the file"),
        C("received_at", "TIMESTAMPTZ", "when the pipeline first saw this file version"),
        C("archive_path", "VARCHAR", "path of the archived copy"),
        C("outcome", "VARCHAR", "accepted, rejected or duplicate (same bytes as another file)"),
    ),
)
SUBMISSIONS = Table(
    "raw",
    "submissions",
    "One accepted submission version of a member for a cycle (every version is kept); `version` orders"
    " them by submitted_at, then received_at.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("submission_id", "VARCHAR", "SHA-256 of the file the version came from"),
        C("member_code", "VARCHAR", "member (ISO 3166-1 alpha-3, EUU for the EU)"),
        C("submitted_at", "TIMESTAMPTZ", "submission time stated in the file"),
        C("received_at", "TIMESTAMPTZ", "when the file was first seen"),
        C("file_name", "VARCHAR", "name of the file"),
        C("format", "VARCHAR", "json, xlsx or csv"),
        C("archive_path", "VARCHAR", "path of the archived copy"),
        C("n_answers", "INTEGER", "answers in the version"),
        C("version", "INTEGER", "1 for the first accepted version of the member in the cycle, then 2, ..."),
        C("is_latest", "BOOLEAN", "true for the version the KPIs use"),
    ),
)
RAW_ANSWERS = Table(
    "raw",
    "answers",
    "One answer (member, item, year) of one accepted submission version, with the place in the file it came from.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("submission_id", "VARCHAR", "SHA-256 of the submission file"),
        C("member_code", "VARCHAR", "member"),
        *ANSWER_COLUMNS,
        *SOURCE_COLUMNS,
    ),
)
RAW_DISCLOSURE = Table(
    "raw",
    "disclosure_choices",
    "One disclosure choice stated in one accepted submission version (KPI id and tier).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("submission_id", "VARCHAR", "SHA-256 of the submission file"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("disclosure", "VARCHAR", "public, wco or secretariat"),
    ),
)
REJECTIONS = Table(
    "raw",
    "rejections",
    "One rejected file of a cycle with its machine-readable reason and the path of its quarantined copy.",
    (
        C("cycle", "VARCHAR", "cycle id of the landing folder"),
        C("sha256", "VARCHAR", "SHA-256 of the file"),
        C("file_name", "VARCHAR", "name of the file"),
        C("received_at", "TIMESTAMPTZ", "when the file was first seen"),
        C("reason_code", "VARCHAR", "code of the first problem, e.g. not_json, unknown_item"),
        C("message", "VARCHAR", "every problem found, in words"),
        C("problems", "VARCHAR", "every problem as JSON (code, message, location)"),
        C("quarantine_path", "VARCHAR", "path of the quarantined copy; its .reason.json is beside it"),
    ),
)

STAGED_ANSWERS = Table(
    "staging",
    "answers",
    "One answer (member, item, year) of the latest accepted submission version of each member: what the"
    " KPIs of the cycle are computed from.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        *ANSWER_COLUMNS,
        C("submission_id", "VARCHAR", "SHA-256 of the submission file"),
        C("version", "INTEGER", "version number of the submission"),
        *SOURCE_COLUMNS,
    ),
)
PARTICIPATION = Table(
    "staging",
    "participation",
    "One member in force for the cycle with its groups (as of the cycle's membership date) and whether"
    " it participates (has an accepted submission).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("member_name", "VARCHAR", "member name in English"),
        C("region_code", "VARCHAR", "WCO region"),
        C("income_group", "VARCHAR", "income group"),
        C("landlocked", "VARCHAR", "landlocked or not_landlocked"),
        C("admin_type", "VARCHAR", "type of administration"),
        C("language", "VARCHAR", "questionnaire language (en, fr, es)"),
        C("is_participating", "BOOLEAN", "has an accepted submission in the cycle"),
        C("submission_id", "VARCHAR", "latest accepted submission version, if any"),
        C("version", "INTEGER", "its version number"),
        C("submitted_at", "TIMESTAMPTZ", "its submission time"),
    ),
)
DISCLOSURE = Table(
    "staging",
    "disclosure",
    "One (participating member, KPI of the cycle) with the tier the member allows its value in;"
    " a KPI the member left out is `secretariat`.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("disclosure", "VARCHAR", "public, wco or secretariat"),
    ),
)

KPI_VALUES = Table(
    "kpi",
    "kpi_values",
    "One KPI series value of a participating member in a cycle, computed from the staged answers by the"
    " KPI's formula, with its status and the disclosure the member chose.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("reporting_year", "INTEGER", "T, the year the data describe"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("series", "VARCHAR", "series id (total, import, export, ...)"),
        C("value", "DOUBLE", "the KPI value, unrounded; NULL unless status is reported"),
        C("status", "VARCHAR", "reported, not_applicable, missing or undefined (zero denominator)"),
        C("disclosure", "VARCHAR", "public, wco or secretariat"),
        C("flags", "VARCHAR", "ids of the warnings raised on the answers behind the value, ;-separated"),
        C("numerator", "DOUBLE", "numerator of a ratio KPI (for the pooled statistic)"),
        C("denominator", "DOUBLE", "denominator of a ratio KPI"),
        C("level_code", "VARCHAR", "the level answered, for categorical KPIs"),
        C("submission_id", "VARCHAR", "submission version the value was computed from"),
    ),
)

ROLLUPS = Table(
    "rollup",
    "rollups",
    "One statistic row per cycle, KPI, series and member group (global, region, income group, landlocked,"
    " administration type) over the members' reported values, before any disclosure control.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("series", "VARCHAR", "series id; for categorical KPIs the level code"),
        C("group_type", "VARCHAR", "global, region, income_group, landlocked or admin_type"),
        C("group_code", "VARCHAR", "code of the group"),
        C("n_reporting", "INTEGER", "members of the group with a reported value (at that level, if categorical)"),
        C("n_participating", "INTEGER", "members of the group that participate in the cycle"),
        C("mean", "DOUBLE", "unweighted mean of member values (categorical: % of answering members at the level)"),
        C("median", "DOUBLE", "exact median of member values"),
        C("min", "DOUBLE", "smallest member value"),
        C("max", "DOUBLE", "largest member value"),
        C("pooled", "DOUBLE", "sum of numerators / sum of denominators (ratio KPIs only)"),
        C("suppressed", "BOOLEAN", "true when statistics are withheld"),
        C("suppression_reason", "VARCHAR", "why statistics are withheld"),
    ),
)



def published_tables(tier: str) -> tuple[Table, Table, Table]:
    """The tier's copies of the contract's tables and its release log, in schema `publish_<tier>`."""
    schema = f"publish_{tier}"
    kpi_values = Table(
        schema,
        "kpi_values",
        f"One KPI series value of a member in a cycle as published to the {tier} tier (contract columns).",
        tuple(c for c in KPI_VALUES.columns if c.name in PUBLISHED_KPI_COLUMNS),
    )
    rollups = Table(
        schema, "rollups", f"One group statistic row as published to the {tier} tier.", ROLLUPS.columns
    )
    releases = Table(
        schema,
        "releases",
        f"One release of a cycle written to published/<cycle>/{tier}/ (the latest row is the one in place).",
        (
            C("cycle", "VARCHAR", "cycle id"),
            C("run_id", "VARCHAR", "Dagster run that wrote the release"),
            C("released_at", "TIMESTAMPTZ", "when the release was switched in"),
            C("path", "VARCHAR", "folder of the release"),
            C("manifest_sha256", "VARCHAR", "SHA-256 of manifest.json"),
            C("code_version", "VARCHAR", "code version that produced it"),
            C("catalogue_digest", "VARCHAR", "SHA-256 of the KPI spec files used"),
        ),
    )
    return kpi_values, rollups, releases


PUBLISHED_KPI_COLUMNS = [
    "cycle", "reporting_year", "member_code", "kpi_id", "series", "value", "status", "disclosure", "flags",
]
PUBLISHED_ROLLUP_COLUMNS = ROLLUPS.column_names


def create_tables(conn: duckdb.DuckDBPyConnection, tables: Sequence[Table]) -> None:
    for schema in sorted({t.schema for t in tables}):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in tables:
        conn.execute(table.render_create())


def replace_cycle_rows(
    conn: duckdb.DuckDBPyConnection, table: Table, cycle: str, rows: pd.DataFrame
) -> int:
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
        conn.execute(f"INSERT INTO {table.qualified} SELECT * FROM _incoming_rows")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_incoming_rows")
    return len(rows)


def append_rows(conn: duckdb.DuckDBPyConnection, table: Table, rows: pd.DataFrame) -> None:
    """Append rows to a log table (releases, history), creating it when missing."""
    create_tables(conn, [table])
    conn.register("_incoming_rows", rows[table.column_names])
    try:
        conn.execute(f"INSERT INTO {table.qualified} SELECT * FROM _incoming_rows")
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
        conn.execute(
            f"INSERT INTO {table.qualified} ({', '.join(table.column_names)}) {select_sql}", params
        )
        count = conn.execute(
            f"SELECT count(*) FROM {table.qualified} WHERE cycle = $cycle", {"cycle": cycle}
        ).fetchall()[0][0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return count
