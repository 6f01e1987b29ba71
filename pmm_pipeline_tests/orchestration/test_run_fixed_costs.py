"""A run's fixed costs paid once: one warehouse connection per step, the garbage collector kept off the imported
objects, the instance's SQLite databases synced as WAL allows, metadata stored once per materialization."""

import subprocess
import sys
import textwrap

import dagster as dg
import duckdb
import pytest

from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.orchestration.resources.warehouse import Warehouse

pytestmark = pytest.mark.cycle

PARTITIONS = dg.StaticPartitionsDefinition(["2023"])


@pytest.fixture
def connects(monkeypatch):
    """Every duckdb.connect the warehouse code makes, in order."""
    import pmm_pipeline.warehouse.connection as connection

    made = []
    real = connection.duckdb.connect

    def counted(*args, **kwargs):
        made.append(args[0] if args else kwargs.get("database"))
        return real(*args, **kwargs)

    monkeypatch.setattr(connection.duckdb, "connect", counted)
    return made


def _assets():
    @dg.asset(key=["demo", "first"], partitions_def=PARTITIONS)
    def first(warehouse: Warehouse):
        with warehouse.get_connection() as conn:
            conn.execute("CREATE OR REPLACE TABLE main.t AS SELECT 1 AS x")
        with warehouse.get_connection() as conn:  # a helper opening its own, after the step's
            conn.execute("INSERT INTO main.t VALUES (2)")
        return dg.MaterializeResult(metadata={"rows": 2})

    @dg.asset(key=["demo", "second"], deps=[first], partitions_def=PARTITIONS)
    def second(warehouse: Warehouse):
        with warehouse.get_connection() as outer, warehouse.get_connection() as inner:  # nested: the same
            assert outer is inner
            total = outer.execute("SELECT sum(x) FROM main.t").fetchall()[0][0]
        return dg.MaterializeResult(metadata={"total": int(total)})

    return [first, second]


def test_a_step_opens_the_warehouse_once_for_all_its_helpers(tmp_path, connects):
    database = tmp_path / "warehouse.duckdb"
    result = dg.materialize(_assets(), partition_key="2023", resources={"warehouse": Warehouse(database=str(database))})
    assert result.success
    # verify_warehouse finds no file on a new warehouse and opens nothing: one connection per step, not per helper.
    assert connects == [str(database)] * 2
    totals = [e.materialization.metadata["total"].value for e in result.get_asset_materialization_events()[1:]]
    assert totals == [3]
    with duckdb.connect(str(database), read_only=True) as conn:  # closed at the run's end: free again
        assert conn.execute("SELECT count(*) FROM main.t").fetchall() == [(2,)]


def test_a_body_that_raises_closes_the_run_connection_and_the_next_use_opens_another(tmp_path, connects):
    database = tmp_path / "warehouse.duckdb"

    @dg.asset(key=["demo", "failing_then_fine"], partitions_def=PARTITIONS)
    def failing_then_fine(warehouse: Warehouse):
        with pytest.raises(duckdb.Error), warehouse.get_connection() as conn:
            conn.execute("BEGIN TRANSACTION")
            conn.execute("CREATE TABLE main.half AS SELECT 1 AS x")
            conn.execute("SELECT * FROM main.no_such_table")
        with warehouse.get_connection() as conn:  # a new connection: the half-done transaction is gone
            tables = conn.execute("SELECT table_name FROM duckdb_tables() WHERE table_name = 'half'").fetchall()
        return dg.MaterializeResult(metadata={"half_tables": len(tables)})

    result = dg.materialize(
        [failing_then_fine], partition_key="2023", resources={"warehouse": Warehouse(database=str(database))}
    )
    assert result.success
    assert len(connects) == 2
    assert result.get_asset_materialization_events()[0].materialization.metadata["half_tables"].value == 0


def test_outside_a_run_each_connection_is_its_own(tmp_path, connects):
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"))
    for _ in range(2):
        with warehouse.get_connection() as conn:
            conn.execute("SELECT 1").fetchall()
    assert len(connects) == 2


def test_a_results_metadata_is_stored_on_the_materialization_only():
    @dg.asset(key=["demo", "described"])
    def described():
        return dg.MaterializeResult(metadata={"preview": dg.MetadataValue.md("| a |\n|---|\n| 1 |"), "rows": 1})

    result = dg.materialize(apply_asset_policies([described]))  # the step guard, as in the code location
    (materialization,) = result.get_asset_materialization_events()
    assert set(materialization.materialization.metadata) == {"preview", "rows"}
    (output,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    assert not output.step_output_data.metadata  # not copied into the step output's event as well


@pytest.mark.subprocess
def test_a_run_process_freezes_its_imports_and_syncs_the_instance_as_wal_allows_keeping_its_log_open(tmp_path):
    script = textwrap.dedent(
        f"""
        import gc, json
        import sqlalchemy as sa
        import dagster as dg
        from pmm_pipeline.orchestration.instance import ensure_dagster_home, prepare_run_process

        home = ensure_dagster_home({{"DAGSTER_HOME": {str(tmp_path / "home")!r}}})
        before = gc.get_freeze_count()
        prepare_run_process()
        seen = {{"frozen_before": before, "frozen": gc.get_freeze_count()}}
        names = ("journal_mode", "synchronous")
        pragmas = lambda conn: [conn.execute(sa.text(f"PRAGMA {{p}}")).scalar() for p in names]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            with instance.run_storage.connect() as conn:
                seen["runs"] = pragmas(conn)
        engine = sa.create_engine("sqlite:///" + {str(tmp_path / "plain.db")!r})
        with engine.connect() as conn:  # a database not in WAL mode keeps SQLite's FULL
            seen["plain"] = pragmas(conn)
        # Connections opened and closed one after another, as Dagster's storage does per event: the log of
        # a WAL database outlives each close (no checkpoint and new log per connection).
        wal = {str(tmp_path / "wal.db")!r}
        for i in range(3):
            engine = sa.create_engine("sqlite:///" + wal, poolclass=sa.pool.NullPool)
            with engine.begin() as conn:
                if i == 0:
                    conn.execute(sa.text("PRAGMA journal_mode=WAL"))
                    conn.execute(sa.text("CREATE TABLE t (a)"))
                conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            engine.dispose()
        seen["log_kept"] = __import__("os").path.exists(wal + "-wal")
        from pmm_pipeline.orchestration import instance as module
        for i in range(module.ANCHORED_DATABASES + 4):  # a webserver reads many runs' databases
            engine = sa.create_engine("sqlite:///" + {str(tmp_path)!r} + f"/run{{i}}.db", poolclass=sa.pool.NullPool)
            with engine.begin() as conn:
                conn.execute(sa.text("PRAGMA journal_mode=WAL"))
            engine.dispose()
            engine = sa.create_engine("sqlite:///" + {str(tmp_path)!r} + f"/run{{i}}.db", poolclass=sa.pool.NullPool)
            with engine.connect() as conn:
                pass
        seen["anchored"] = len(module._anchors)
        print(json.dumps(seen))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import json

    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["frozen_before"] == 0 and seen["frozen"] > 10_000  # the imports: Dagster, SQLAlchemy, ...
    assert seen["runs"] == ["wal", 1]  # 1: NORMAL
    assert seen["plain"] == ["delete", 2]  # 2: FULL
    assert seen["log_kept"]  # an idle connection kept open: SQLite's close of the last connection did not run
    assert seen["anchored"] == 16  # at most ANCHORED_DATABASES idle connections
