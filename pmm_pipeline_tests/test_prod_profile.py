"""The `prod` profile against a real PostgreSQL server on 127.0.0.1: same code, other configuration.

One cycle run (fixtures/cycle_2023) with the Dagster instance from deploy/dagster.yaml (runs, events,
schedules in PostgreSQL, queued run coordinator) and PMM_PUBLISH_SQL_URL pointing at a database set
up by deploy/postgres_roles.sql; compared with the embedded default's run of the same cycle.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import replace

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from pmm_pipeline.publishing.disclosure import TIERS
from pmm_pipeline.publishing.release import read_table_file
from pmm_pipeline.publishing.sql_assets import SECRETARIAT_EXTRAS, tier_copies
from pmm_pipeline.publishing.sql_publish import SqlTable, read_cycle, target_schema
from pmm_pipeline.resources.sql_target import SqlPublicationTarget
from pmm_pipeline.resources.warehouse import open_warehouse
from pmm_pipeline.settings import CHECKOUT_DIR
from pmm_pipeline.tables import published_tables
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for
from pmm_pipeline_tests.postgres_server import PostgresUnavailable, running_postgres

CYCLE = "2023"
DEPLOY = CHECKOUT_DIR / "deploy"
# One login per reader role of deploy/postgres_roles.sql, as a database administrator would add them.
READERS = {"public": "dashboard", "wco": "wco_analyst", "secretariat": "secretariat_analyst"}


@pytest.fixture(scope="module")
def postgres():
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as why:
        pytest.skip(f"no PostgreSQL server for the prod-profile tests: {why}")


@pytest.fixture(scope="module")
def publication_db(postgres):
    """Database `pmm` with the roles, schemas and grants of deploy/postgres_roles.sql, plus one login per tier."""
    with postgres.connect() as conn:
        conn.autocommit = True
        conn.execute("CREATE DATABASE pmm")
        conn.execute("CREATE DATABASE dagster")
    with postgres.connect(database="pmm") as conn:
        conn.execute((DEPLOY / "postgres_roles.sql").read_text())
        conn.execute((DEPLOY / "postgres_roles.sql").read_text())  # applying it again is harmless
        for tier, login in READERS.items():
            conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE pmm_{tier}_reader")
    return postgres.url(user="pmm_publisher", database="pmm")


@pytest.fixture(scope="module")
def prod_instance(postgres, publication_db, tmp_path_factory):
    """A Dagster instance from deploy/dagster.yaml, its PMM_DAGSTER_PG_* settings pointing at the test server."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "PMM_DAGSTER_PG_HOST": postgres.host,
            "PMM_DAGSTER_PG_PORT": str(postgres.port),
            "PMM_DAGSTER_PG_USER": postgres.superuser,
            "PMM_DAGSTER_PG_PASSWORD": "",
            "PMM_DAGSTER_PG_DB": "dagster",
        }.items():
            env.setenv(name, value)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance


@pytest.fixture(scope="module")
def prod_cycle(prod_instance, publication_db, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("prod_data")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / CYCLE)
    settings = replace(settings_for(data_dir), publish_sql_url=publication_db)
    result = run_cycle_in_process(settings, CYCLE, prod_instance)
    return settings, result


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object).where(pd.notna(frame), None)
    return frame.sort_values(list(frame.columns), key=lambda c: c.astype(str)).reset_index(drop=True)


def test_the_cycle_runs_with_its_run_stored_in_postgres(prod_cycle, prod_instance, postgres):
    _, result = prod_cycle
    assert result.success
    assert type(prod_instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(prod_instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(prod_instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    with postgres.connect(database="dagster") as conn:
        status = conn.execute("SELECT status FROM runs WHERE run_id = %s", [result.run_id]).fetchall()
        materialized = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            [result.run_id],
        ).fetchall()
    assert status == [("SUCCESS",)]
    assert materialized[0][0] > 20


def test_each_tiers_tables_in_the_database_equal_its_released_files(prod_cycle):
    settings, _ = prod_cycle
    engine = sa.create_engine(settings.publish_sql_url)
    try:
        for tier in TIERS:
            tier_dir = settings.layout.published_dir(CYCLE) / tier
            for table in published_tables(tier)[:2]:
                released = read_table_file(tier_dir / f"{table.name}.parquet")
                in_db = read_cycle(engine, target_schema(tier), table.name, CYCLE)
                assert len(released) > 0, f"{tier}/{table.name}: nothing released"
                assert list(in_db.columns) == list(released.columns)
                pd.testing.assert_frame_equal(sorted_frame(in_db), sorted_frame(released), check_dtype=False)
        with open_warehouse(settings.layout.warehouse_path) as conn:
            extras = {t.name: conn.execute(f"SELECT * FROM {t.qualified} WHERE cycle = ?", [CYCLE]).df()
                      for t, _ in SECRETARIAT_EXTRAS}
        for table, schema in SECRETARIAT_EXTRAS:
            in_db = read_cycle(engine, schema, table.name, CYCLE)
            assert len(in_db) > 0
            pd.testing.assert_frame_equal(sorted_frame(in_db), sorted_frame(extras[table.name]), check_dtype=False)
    finally:
        engine.dispose()


def test_prod_publishes_the_same_files_as_the_embedded_default(prod_cycle, fixture_cycle):
    prod_settings, _ = prod_cycle
    default_settings, default_result = fixture_cycle
    assert default_result.success
    for tier in TIERS:
        for name in ("kpi_values.csv", "rollups.csv", "kpi_values.parquet", "rollups.parquet"):
            prod_file = prod_settings.layout.published_dir(CYCLE) / tier / name
            default_file = default_settings.layout.published_dir(CYCLE) / tier / name
            assert prod_file.read_bytes() == default_file.read_bytes(), f"{tier}/{name} differs"


def test_a_tiers_role_is_refused_the_schemas_of_higher_tiers(prod_cycle, postgres):
    import psycopg

    readable = {
        "public": ["pmm_public"],
        "wco": ["pmm_public", "pmm_wco"],
        "secretariat": ["pmm_public", "pmm_wco", "pmm_secretariat", "pmm_quality", "pmm_collection"],
    }
    every_table = {
        "pmm_public": "kpi_values", "pmm_wco": "kpi_values", "pmm_secretariat": "kpi_values",
        "pmm_quality": "member_summary", "pmm_collection": "completeness",
    }
    for tier, login in READERS.items():
        for schema, table in every_table.items():
            with postgres.connect(user=login, database="pmm") as conn:
                query = f"SELECT count(*) FROM {schema}.{table} WHERE cycle = %s"
                if schema in readable[tier]:
                    assert conn.execute(query, [CYCLE]).fetchall()[0][0] > 0
                else:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                        conn.execute(query, [CYCLE])
        with postgres.connect(user=login, database="pmm") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM pmm_public.kpi_values")


def test_republishing_is_idempotent_and_a_failed_publication_changes_nothing(prod_cycle):
    settings, _ = prod_cycle
    target = SqlPublicationTarget(url=settings.publish_sql_url)
    engine = sa.create_engine(settings.publish_sql_url)
    tier = "wco"
    try:
        with open_warehouse(settings.layout.warehouse_path) as conn:
            tables = [
                SqlTable(t, schema, conn.execute(f"SELECT * FROM {t.qualified} WHERE cycle = ?", [CYCLE]).df())
                for t, schema in tier_copies(tier)
            ]
        before = {t.declared.name: sorted_frame(read_cycle(engine, t.schema, t.declared.name, CYCLE)) for t in tables}

        written = target.publish(CYCLE, tables)
        assert written == {f"{t.schema}.{t.declared.name}": len(t.rows) for t in tables}
        for t in tables:
            pd.testing.assert_frame_equal(sorted_frame(read_cycle(engine, t.schema, t.declared.name, CYCLE)),
                                          before[t.declared.name])

        # The second table cannot be written (a column is missing), after the first one was replaced by no rows
        # in the same transaction: the database must still hold the whole previous release.
        broken = [
            replace(tables[0], rows=tables[0].rows.iloc[0:0]),
            replace(tables[1], rows=tables[1].rows.drop(columns="cycle")),
        ]
        with pytest.raises(ValueError, match="lack declared columns"):
            target.publish(CYCLE, broken)
        for t in tables:
            pd.testing.assert_frame_equal(sorted_frame(read_cycle(engine, t.schema, t.declared.name, CYCLE)),
                                          before[t.declared.name])
    finally:
        engine.dispose()


def test_no_target_configured_writes_nothing():
    nothing = SqlTable(published_tables("public")[0], "pmm_public", pd.DataFrame())
    assert SqlPublicationTarget().publish(CYCLE, [nothing]) == {}


# A run of one trivial asset in its own process, against the instance in DAGSTER_HOME; prints the run id.
ONE_RUN = """
import dagster as dg

@dg.asset
def tick() -> int:
    return 1

with dg.DagsterInstance.get() as instance:
    print(dg.materialize([tick], instance=instance).run_id)
"""


def test_the_instance_queues_runs_and_two_runs_at_once_are_stored(prod_instance, postgres):
    """deploy/dagster.yaml gives the daemon a run queue with a limit; two runs executed at the same time, each
    in its own process, against the PostgreSQL instance both complete and are both recorded."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    assert isinstance(prod_instance.run_coordinator, QueuedRunCoordinator)
    assert prod_instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4

    env = {**os.environ, "DAGSTER_HOME": prod_instance.root_directory}
    runs = [subprocess.Popen([sys.executable, "-c", ONE_RUN], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]
    run_ids = [run.communicate(timeout=120)[0].strip().splitlines()[-1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    with postgres.connect(database="dagster") as conn:
        stored = conn.execute("SELECT status FROM runs WHERE run_id = ANY(%s)", [run_ids]).fetchall()
    assert stored == [("SUCCESS",), ("SUCCESS",)]
