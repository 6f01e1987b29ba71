"""Each table the SQL of the pipeline names is declared, and each asset depends on exactly the tables its step reads.

A cycle is run with DuckDB's query log switched on for the warehouse, read at the end of each step (its
statements), every statement is parsed with sqlglot, and the tables it reads and writes are compared with the
definitions: the tables of the table assets (their `dagster/table_name`, from warehouse/tables/) and each
asset's declared dependencies. A new query that reads a table its asset does not depend on, or a dependency
no step reads any more, fails here.
"""

import shutil
from collections import defaultdict
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlglot
from sqlglot import exp

from pmm_pipeline.app.run import run_cycle
from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.defs.jobs import CYCLE_JOB
from pmm_pipeline.orchestration.table_assets import TABLE_NAME_PREFIX
from pmm_pipeline.warehouse.tables import published_tables
from pmm_pipeline_tests.conftest import FIXTURES, settings_for

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


# Schemas DuckDB itself provides; `main._name` is a data frame a step registers on its connection (never stored).
SYSTEM_SCHEMAS = ("information_schema", "pg_catalog")


def table_references(sql: str) -> tuple[set[str], set[str]]:
    """(tables read, tables written) by one or more statements: `schema.table`, or `table` when unqualified.

    Written: the target of INSERT, CREATE, DELETE, UPDATE, DROP or MERGE; everything else a statement
    names is read. Names of its own common table expressions are not tables.
    """
    reads: set[str] = set()
    writes: set[str] = set()
    for statement in sqlglot.parse(sql, read="duckdb"):
        if statement is None or (isinstance(statement, exp.Create) and str(statement.kind).upper() == "SCHEMA"):
            continue  # CREATE SCHEMA names a schema, not a table
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        target = None
        if isinstance(statement, exp.Insert | exp.Create | exp.Delete | exp.Update | exp.Drop | exp.Merge):
            target = statement.this
            while isinstance(target, exp.Schema):
                target = target.this
        for table in statement.find_all(exp.Table):
            if not table.name or (not table.db and table.name in ctes):
                continue
            name = f"{table.db}.{table.name}" if table.db else table.name
            (writes if table is target else reads).add(name)
    return reads, writes


def test_table_references_tell_reads_from_writes():
    reads, writes = table_references(
        "WITH recent AS (SELECT * FROM raw.submissions) INSERT INTO staging.answers"
        " SELECT a.* FROM raw.answers a JOIN recent USING (submission_id) WHERE a.item IN (SELECT item FROM _items)"
    )
    assert reads == {"raw.submissions", "raw.answers", "_items"} and writes == {"staging.answers"}
    reads, writes = table_references("DELETE FROM kpi.kpi_values WHERE cycle = ?; SELECT count(*) FROM rollup.rollups")
    assert reads == {"rollup.rollups"} and writes == {"kpi.kpi_values"}
    assert table_references("CREATE SCHEMA IF NOT EXISTS quality") == (set(), set())
    assert table_references("CREATE OR REPLACE VIEW kpi.x AS SELECT * FROM kpi.kpi_values WHERE kpi_id = 'x'") == (
        {"kpi.kpi_values"},
        {"kpi.x"},
    )


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """Cycle 2023 over the hand-made submissions, with every step's warehouse statements logged per step.

    DuckDB logs each statement of a warehouse connection in memory; at the end of each step the log is read
    into that step's list and emptied (a run shares one connection across its steps).
    """
    root = tmp_path_factory.mktemp("sql_reads")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", root / "data" / "landing" / "2023")
    settings = settings_for(root / "data")
    current: dict[str, str | None] = {"step": None}
    connections: list[duckdb.DuckDBPyConnection] = []
    statements: dict[str, list[str]] = {}
    real_connect = duckdb.connect

    def connect(database=":memory:", *args, **kwargs):
        conn = real_connect(database, *args, **kwargs)
        if current["step"] and Path(str(database)) == settings.layout.warehouse_path:
            conn.execute("CALL enable_logging('QueryLog')")
            connections.append(conn)
        return conn

    def harvest(step: str | None) -> None:
        for conn in list(connections):
            try:
                logged = conn.execute("SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()
                conn.execute("CALL truncate_duckdb_logs()")
            except duckdb.ConnectionException:  # closed since: the run ended its connection
                connections.remove(conn)
                continue
            if step is not None and logged:
                statements.setdefault(step, []).extend(message for (message,) in logged)

    def follow_steps(entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        if event.event_type == dg.DagsterEventType.STEP_START:
            harvest(None)  # nothing between steps belongs to the step starting
            current["step"] = entry.step_key
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            harvest(current["step"])
            current["step"] = None  # what runs after the last step (the run's summary) belongs to no step

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(duckdb, "connect", connect)
        outcome = run_cycle(settings, "2023", instance=dg.DagsterInstance.ephemeral(), on_event=follow_steps)
    assert outcome.success, outcome.failures
    return settings, statements


@pytest.fixture(scope="module")
def definitions(logged_run):
    settings, _ = logged_run
    defs = build_definitions(settings)
    return defs.resolve_asset_graph(), defs.resolve_job_def(CYCLE_JOB)


def _table_of(graph, key: dg.AssetKey) -> str | None:
    value = (graph.get(key).metadata or {}).get("dagster/table_name")
    value = getattr(value, "value", value)
    return str(value).removeprefix(TABLE_NAME_PREFIX) if value else None


def _step_references(statements: list[str]) -> tuple[set[str], set[str]]:
    reads, writes = set(), set()
    for sql in statements:
        r, w = table_references(sql)
        reads |= r
        writes |= w
    return reads, writes


def test_every_table_the_sql_names_is_declared(logged_run, definitions):
    settings, statements = logged_run
    graph, _ = definitions
    declared = {t for k in graph.get_all_asset_keys() if (t := _table_of(graph, k))}
    # The KPI views are made by the KPI step and declared on kpi.kpi_values (its `kpi_views`), not as assets.
    kpi_views = graph.get(dg.AssetKey(["kpi", "kpi_values"])).metadata["kpi_views"].value
    declared |= {entry["view"] for entry in kpi_views.values()}
    assert len(statements) >= 15, sorted(statements)  # the log caught the steps that use the warehouse
    undeclared = defaultdict(set)
    for step, sqls in statements.items():
        reads, writes = _step_references(sqls)
        for name in reads | writes:
            schema, _, table = name.rpartition(".")
            if schema in SYSTEM_SCHEMAS or (schema in ("", "main") and table.startswith("_")):
                continue
            if name not in declared:
                undeclared[step].add(name)
    assert not undeclared, dict(undeclared)
    # The `_name` frames are registered on a connection only: nothing of the kind is stored in the warehouse.
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        stored = conn.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
    assert {name for (name,) in stored} <= declared, {name for (name,) in stored} - declared


def test_every_asset_depends_on_exactly_the_tables_its_step_reads(logged_run, definitions):
    _, statements = logged_run
    graph, job = definitions
    assets_of_step = defaultdict(set)
    for key in job.asset_layer.executable_asset_keys:
        assets_of_step[job.asset_layer.get_op_output_handle(key).node_handle.name].add(key)
    # A tier's release is a folder of files as well as a table: what depends on it (the release of the tier
    # above, the profiles, the series) reads the released files on disk, through no SQL.
    released = {published_tables(t)[2].qualified for t in TIERS}
    mismatches = {}
    for step, assets in sorted(assets_of_step.items()):
        own = {t for a in assets if (t := _table_of(graph, a))}
        deps = {t for a in assets for d in graph.get(a).parent_keys if (t := _table_of(graph, d))} - own
        if step not in statements:
            # A step that ran no SQL here (e.g. the copy to a SQL database, with no target configured).
            continue
        reads, _ = _step_references(statements[step])
        read = {r for r in reads if r.partition(".")[0] not in SYSTEM_SCHEMAS and "._" not in r and "." in r} - own
        ordering = {d for d in deps - read if d in released}
        if read != deps - ordering:
            mismatches[step] = {
                "read, not a dependency": sorted(read - deps),
                "dependency, not read": sorted(deps - read - ordering),
            }
    assert not mismatches, mismatches
