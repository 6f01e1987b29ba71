"""The row-key checks: every table asset whose table declares a row key (warehouse/tables/) checks, each time its
step writes it, that no two of the cycle's rows share one.

Spec and evaluation both come from the table's declaration, here and nowhere else: the asset policies
(policies.py) give every keyed table asset its check spec and run `key_check_results` after the step's body, over
what it wrote for the cycle. No stage writes one by hand, and none can be forgotten. The cost is one
`GROUP BY key HAVING count(*) > 1 LIMIT` query per table and step, over the cycle's rows only.
"""

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence

import dagster as dg
import duckdb

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.orchestration.checks import RECORD_ROW_KEY_CHECK, ROW_KEY_CHECK
from pmm_pipeline.warehouse.reads import table_exists
from pmm_pipeline.warehouse.tables import (
    COMPLETENESS,
    FEEDBACK_REPORTS,
    OUTSTANDING_MEMBERS,
    PROVENANCE,
    QUESTIONNAIRES,
    RAW_ANSWERS,
    RAW_DISCLOSURE,
    RECEIVED_FILES,
    REJECTIONS,
    STAGED_ANSWERS,
    SUBMISSION_CHANGES,
    SUBMISSION_HISTORY,
    SUBMISSIONS,
    Table,
    declared_tables,
    published_tables,
)

KEY_CHECK_NAMES = (ROW_KEY_CHECK, RECORD_ROW_KEY_CHECK)
LISTED_DUPLICATES = 5  # keys named in a failed check's description and metadata

TABLES_BY_ASSET_KEY: dict[dg.AssetKey, Table] = {dg.AssetKey(t.key): t for t in declared_tables()}

# The tables whose repeated keys do not stop the steps after them (RECORD_ROW_KEY_CHECK): records that no figure
# is computed from, and the intake's and staging's tables whose rows the tables after them check again (staged
# answers: the quality gate's rule duplicate_answer blocks the member whose answer repeats; the admitted answers
# block). Every other keyed table feeds the figures: a key given twice there counts a row twice, and blocks.
ON_RECORD = frozenset(
    t.qualified
    for t in (
        RECEIVED_FILES,
        SUBMISSIONS,
        RAW_ANSWERS,
        RAW_DISCLOSURE,
        REJECTIONS,
        STAGED_ANSWERS,
        SUBMISSION_HISTORY,
        SUBMISSION_CHANGES,
        FEEDBACK_REPORTS,
        COMPLETENESS,
        OUTSTANDING_MEMBERS,
        QUESTIONNAIRES,
        PROVENANCE,
        *(published_tables(tier)[2] for tier in TIERS),
    )
)


def key_check_name(table: Table) -> str:
    return RECORD_ROW_KEY_CHECK if table.qualified in ON_RECORD else ROW_KEY_CHECK


def key_check_spec(table: Table) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        key_check_name(table),
        asset=table.key,
        description=f"No two rows of {table.qualified} written for the cycle share its row key"
        f" ({', '.join(table.row_key)}, declared in warehouse/tables/).",
    )


def missing_key_check_specs(assets_def: dg.AssetsDefinition) -> list[dg.AssetCheckSpec]:
    """The row-key check specs the asset's keyed tables are owed and do not have yet."""
    present = {(spec.asset_key, spec.name) for spec in assets_def.check_specs}
    owed = [
        key_check_spec(TABLES_BY_ASSET_KEY[key])
        for key in sorted(assets_def.keys, key=lambda k: k.to_user_string())
        if key in TABLES_BY_ASSET_KEY and TABLES_BY_ASSET_KEY[key].row_key
    ]
    return [spec for spec in owed if (spec.asset_key, spec.name) not in present]


def key_checked_tables(assets_def: dg.AssetsDefinition) -> dict[dg.AssetKey, Table]:
    """The tables of the asset that carry a row-key check, by asset key."""
    return {
        spec.asset_key: TABLES_BY_ASSET_KEY[spec.asset_key]
        for spec in assets_def.check_specs
        if spec.name in KEY_CHECK_NAMES and spec.asset_key in TABLES_BY_ASSET_KEY
    }


def duplicate_keys(
    conn: duckdb.DuckDBPyConnection, table: Table, cycle: str, limit: int = LISTED_DUPLICATES
) -> list[dict]:
    """Up to `limit` row keys that more than one of the cycle's rows of `table` share, with how many share each.

    A table not in the warehouse repeats no key: a reused release step replays its result and logs no release
    (a warehouse rebuilt from the archive then has no releases table until a release is computed)."""
    if not table_exists(conn, table):
        return []
    key = ", ".join(table.row_key)
    rows = conn.execute(
        f"SELECT {key}, count(*) AS n_rows FROM {table.qualified} WHERE cycle = ?"
        f" GROUP BY {key} HAVING count(*) > 1 ORDER BY ALL LIMIT {int(limit)}",
        [cycle],
    ).fetchall()
    return [{**{c: _plain(v) for c, v in zip(table.row_key, row, strict=False)}, "n_rows": row[-1]} for row in rows]


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def key_check_result(conn: duckdb.DuckDBPyConnection, table: Table, cycle: str) -> dg.AssetCheckResult:
    # One more than listed: whether there are more than those listed is said, never counted.
    found = duplicate_keys(conn, table, cycle, LISTED_DUPLICATES + 1)
    duplicates = found[:LISTED_DUPLICATES]
    description = None
    if duplicates:
        listed = "; ".join(
            ", ".join(f"{c}={d[c]}" for c in table.row_key) + f" ({d['n_rows']} rows)" for d in duplicates
        )
        more = ", and more" if len(found) > LISTED_DUPLICATES else ""
        description = (
            f"{table.qualified}: rows of cycle {cycle} share a row key ({', '.join(table.row_key)}): {listed}{more}"
        )
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(table.key),
        check_name=key_check_name(table),
        passed=not duplicates,
        description=description,
        metadata={
            "table": dg.MetadataValue.text(table.qualified),
            "row_key": dg.MetadataValue.json(list(table.row_key)),
            "duplicate_keys": dg.MetadataValue.json(duplicates),
        },
    )


def key_check_results(connect: Callable[[], object], tables: Sequence[Table], cycle: str) -> list[dg.AssetCheckResult]:
    """One result per table, over one connection (`connect()`, a context manager)."""
    if not tables:
        return []
    with connect() as conn:
        return [key_check_result(conn, table, cycle) for table in tables]


def checking_keys(fn: Callable, tables: dict[dg.AssetKey, Table]) -> Callable:
    """`fn` (a step's compute function, which takes `context` and the `warehouse` resource) followed by the row-key
    check of every table in `tables` it materialized: attached to its result, or yielded after its last event."""

    def context_and_connect(args, kwargs):
        context = kwargs["context"] if "context" in kwargs else args[0]
        return context, kwargs["warehouse"].get_connection

    def written(event, context) -> dg.AssetKey | None:
        if not isinstance(event, dg.MaterializeResult):
            return None
        return event.asset_key or context.asset_key

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def checked_generator(*args, **kwargs) -> Iterator:
            context, connect = context_and_connect(args, kwargs)
            materialized = []
            for event in fn(*args, **kwargs):
                key = written(event, context)
                if key in tables and key not in materialized:
                    materialized.append(key)
                yield event
            # After the body: its connection is back, and the tables hold everything the step wrote.
            yield from key_check_results(connect, [tables[k] for k in materialized], context.partition_key)

        return checked_generator

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        context, connect = context_and_connect(args, kwargs)
        result = fn(*args, **kwargs)
        key = written(result, context)
        if key not in tables or len(tables) > 1:
            raise TypeError(f"{fn.__name__}: a step of several row-key checks yields its results, or returns one")
        checks = key_check_results(connect, [tables[key]], context.partition_key)
        return result._replace(check_results=[*(result.check_results or []), *checks])

    return checked
