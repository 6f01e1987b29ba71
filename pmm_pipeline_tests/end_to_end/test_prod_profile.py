"""The `prod` profile against a real PostgreSQL server on 127.0.0.1: same code, other configuration.

One cycle run (fixtures/cycle_2023) with the profile selected by environment variables only: the
Dagster instance from deploy/dagster.yaml (runs, events, schedules in PostgreSQL, queued run
coordinator) and PMM_PUBLISH_SQL_URL, with a password, pointing at a database set up by
deploy/postgres_roles.sql. Compared with the embedded default's run of the same cycle; the roles of
each tier; the password kept out of Dagster; and the deployment's services (code location server,
daemon) running two queued runs one after the other.
"""

import os
import shutil
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster._core.utils import make_new_run_id

from pmm_pipeline.core.settings import CHECKOUT_DIR, Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.defs.publishing_sql import SECRETARIAT_EXTRAS, sql_release_key, tier_copies
from pmm_pipeline.orchestration.resources.sql_target import SqlPublicationTarget
from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline.stages.publishing.readback import read_table_file
from pmm_pipeline.stages.publishing.sql_publish import SqlTable, read_cycle, target_schema
from pmm_pipeline.warehouse.connection import open_warehouse
from pmm_pipeline.warehouse.tables import published_tables
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, slow_fixture, stop_process_group
from pmm_pipeline_tests.paths import TESTS
from pmm_pipeline_tests.postgres_server import PostgresUnavailableError, free_port, running_postgres

# The prod profile's tests share a PostgreSQL server and Dagster services: none of them is a `make test-fast` test.
pytestmark = pytest.mark.postgres

CYCLE = "2023"
DEPLOY = CHECKOUT_DIR / "deploy"
# One login per reader role of deploy/postgres_roles.sql, as a database administrator would add them.
READERS = {"public": "dashboard", "wco": "wco_analyst", "secretariat": "secretariat_analyst"}
# What each tier's readers may read, by hand from the README: public ⊂ wco ⊂ secretariat, and the quality
# and collection status name members, so Secretariat only.
READABLE = {
    "public": {"pmm_public"},
    "wco": {"pmm_public", "pmm_wco"},
    "secretariat": {"pmm_public", "pmm_wco", "pmm_secretariat", "pmm_quality", "pmm_collection"},
}
PUBLISHED = [
    ("pmm_public", "kpi_values"),
    ("pmm_public", "rollups"),
    ("pmm_wco", "kpi_values"),
    ("pmm_wco", "rollups"),
    ("pmm_secretariat", "kpi_values"),
    ("pmm_secretariat", "rollups"),
    ("pmm_quality", "member_summary"),
    ("pmm_collection", "completeness"),
]
# The publisher's password in PMM_PUBLISH_SQL_URL (the test server trusts local connections and ignores it).
PASSWORD = "not-in-the-ui-7Qz"


@pytest.fixture(scope="module")
@slow_fixture("postgres")
def postgres():
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailableError as why:
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
    """Cycle 2023 run with the `prod` profile selected as the README's deployment guide says: environment
    variables only (DAGSTER_HOME holding deploy/dagster.yaml, PMM_DAGSTER_PG_*, PMM_PUBLISH_SQL_URL); the
    publication URL holds a password, which must show nowhere in Dagster."""
    data_dir = tmp_path_factory.mktemp("prod_data")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / CYCLE)
    prod_env = {
        "DAGSTER_HOME": prod_instance.root_directory,
        "PMM_DATA_DIR": str(data_dir),
        "PMM_PUBLISH_SQL_URL": sa.make_url(publication_db).set(password=PASSWORD).render_as_string(hide_password=False),
    }
    with pytest.MonkeyPatch.context() as env:
        for name, value in prod_env.items():
            env.setenv(name, value)
        settings = Settings.from_env(prod_env)
        with dg.DagsterInstance.get() as instance:
            result = run_cycle_in_process(settings, CYCLE, instance)
        yield settings, result


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(object).where(pd.notna(frame), None)
    return frame.sort_values(list(frame.columns), key=lambda c: c.astype(str)).reset_index(drop=True)


def cycle_tables(settings, tier: str) -> list[SqlTable]:
    """What the tier's sql_release asset publishes for the cycle, read from the run's warehouse."""
    with open_warehouse(settings.layout.warehouse_path) as conn:
        return [
            SqlTable(t, schema, conn.execute(f"SELECT * FROM {t.qualified} WHERE cycle = ?", [CYCLE]).df())
            for t, schema in tier_copies(tier)
        ]


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


def test_the_publication_password_shows_nowhere_in_dagster(prod_cycle, postgres):
    """PMM_PUBLISH_SQL_URL held a password. The UI shows the run's record (config, tags), its job snapshot
    (resource settings), its events (logs, metadata) and the code location's resources: none holds it."""
    from dagster._core.remote_representation.external_data import RepositorySnap, ResourceConfigEnvVarSnap

    settings, result = prod_cycle
    assert sa.make_url(settings.publish_sql_url).password == PASSWORD
    with postgres.connect(database="dagster") as conn:
        runs = conn.execute("SELECT run_body FROM runs WHERE run_id = %s", [result.run_id]).fetchall()
        events = conn.execute("SELECT event FROM event_logs WHERE run_id = %s", [result.run_id]).fetchall()
        snapshots = conn.execute("SELECT snapshot_body FROM snapshots").fetchall()
    stored = [text for (text,) in runs + events] + [zlib.decompress(body).decode() for (body,) in snapshots]
    assert len(runs) == 1 and len(events) > 100 and snapshots
    assert not [text[:300] for text in stored if PASSWORD in text]
    # ... though the run did use the database, the UI naming it with the password masked:
    published = [
        event.step_materialization_data.materialization.metadata["target"].value
        for event in result.get_asset_materialization_events()
        if event.asset_key == sql_release_key("secretariat")
    ]
    assert published == [f"postgresql+psycopg://pmm_publisher:***@{postgres.host}:{postgres.port}/pmm"]

    repository = RepositorySnap.from_def(build_definitions(settings).get_repository_def())
    assert PASSWORD not in dg.serialize_value(repository)
    (sql_target,) = [resource for resource in repository.resources if resource.name == "sql_target"]
    assert sql_target.configured_values["url"] == ResourceConfigEnvVarSnap(name="PMM_PUBLISH_SQL_URL")


def test_a_password_less_url_publishes_with_the_password_libpq_finds(prod_cycle, postgres, tmp_path, monkeypatch):
    """The other way to keep the password out of the UI: the URL names no password, libpq finds it in
    PGPASSWORD or a password file (~/.pgpass, or PGPASSFILE)."""
    settings, _ = prod_cycle
    with postgres.connect(database="pmm") as conn:
        conn.execute("CREATE ROLE ci_publisher LOGIN IN ROLE pmm_publisher")
    postgres.require_password("ci_publisher", PASSWORD)
    url = postgres.url(user="ci_publisher", database="pmm")
    target = SqlPublicationTarget.from_setting(url)
    assert target.url == url
    tables = cycle_tables(settings, "public")
    expected = {f"{t.schema}.{t.declared.name}": len(t.rows) for t in tables}

    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(sa.exc.OperationalError, match="password"):
        target.publish(CYCLE, tables)
    password_file = tmp_path / "pgpass"
    password_file.write_text(f"{postgres.host}:{postgres.port}:pmm:ci_publisher:{PASSWORD}\n")
    password_file.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(password_file))
    assert target.publish(CYCLE, tables) == expected
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert target.publish(CYCLE, tables) == expected


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
                pd.testing.assert_frame_equal(
                    sorted_frame(in_db), sorted_frame(released), check_dtype=False, check_exact=True
                )
        with open_warehouse(settings.layout.warehouse_path) as conn:
            extras = {
                t.name: conn.execute(f"SELECT * FROM {t.qualified} WHERE cycle = ?", [CYCLE]).df()
                for t, _ in SECRETARIAT_EXTRAS
            }
        for table, schema in SECRETARIAT_EXTRAS:
            in_db = read_cycle(engine, schema, table.name, CYCLE)
            assert len(in_db) > 0
            pd.testing.assert_frame_equal(
                sorted_frame(in_db), sorted_frame(extras[table.name]), check_dtype=False, check_exact=True
            )
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


def read_as(postgres, login: str, schema: str, table: str) -> int:
    """Rows of the cycle a reader's login sees in a published table (raises if it is refused)."""
    with postgres.connect(user=login, database="pmm") as conn:
        return conn.execute(f"SELECT count(*) FROM {schema}.{table} WHERE cycle = %s", [CYCLE]).fetchall()[0][0]


def assert_each_reader_reads_its_tiers_only(postgres) -> None:
    import psycopg

    for tier, login in READERS.items():
        for schema, table in PUBLISHED:
            if schema in READABLE[tier]:
                assert read_as(postgres, login, schema, table) > 0, f"{login}: {schema}.{table}"
            else:
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    read_as(postgres, login, schema, table)


@pytest.mark.parametrize(
    "tier, schema, table",
    [
        ("public", "pmm_secretariat", "kpi_values"),
        ("public", "pmm_wco", "rollups"),
        ("public", "pmm_quality", "member_summary"),
        ("wco", "pmm_secretariat", "rollups"),
        ("wco", "pmm_collection", "completeness"),
    ],
)
def test_a_tiers_reader_is_refused_a_higher_tiers_schema(prod_cycle, postgres, tier, schema, table):
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"permission denied for schema {schema}"):
        read_as(postgres, READERS[tier], schema, table)


def test_each_reader_reads_every_table_of_its_tiers_and_none_of_the_others_and_writes_nothing(prod_cycle, postgres):
    """The tables were created by the pipeline's first publication, after deploy/postgres_roles.sql ran: their
    grants come from the schemas' default privileges."""
    import psycopg

    assert_each_reader_reads_its_tiers_only(postgres)
    for login in READERS.values():
        with postgres.connect(user=login, database="pmm") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM pmm_public.kpi_values")


def test_grants_survive_a_republication_and_a_recreated_table(prod_cycle, postgres, publication_db):
    """Re-publishing replaces rows, not tables, so grants stay; a table the publisher has to create again
    (dropped by an administrator) gets them back from the default privileges."""
    settings, _ = prod_cycle
    target = SqlPublicationTarget(url=publication_db)
    with postgres.connect(user="pmm_publisher", database="pmm") as conn:
        conn.execute("DROP TABLE pmm_public.rollups")
    for tier in TIERS:
        target.publish(CYCLE, cycle_tables(settings, tier))
    assert_each_reader_reads_its_tiers_only(postgres)


def test_republishing_is_idempotent_and_a_failed_publication_changes_nothing(prod_cycle):
    settings, _ = prod_cycle
    target = SqlPublicationTarget(url=settings.publish_sql_url)
    engine = sa.create_engine(settings.publish_sql_url)
    try:
        tables = cycle_tables(settings, "wco")
        before = {t.declared.name: sorted_frame(read_cycle(engine, t.schema, t.declared.name, CYCLE)) for t in tables}

        written = target.publish(CYCLE, tables)
        assert written == {f"{t.schema}.{t.declared.name}": len(t.rows) for t in tables}
        for t in tables:
            pd.testing.assert_frame_equal(
                sorted_frame(read_cycle(engine, t.schema, t.declared.name, CYCLE)), before[t.declared.name]
            )

        # The second table cannot be written (a column is missing), after the first one was replaced by no rows
        # in the same transaction: the database must still hold the whole previous release.
        broken = [
            replace(tables[0], rows=tables[0].rows.iloc[0:0]),
            replace(tables[1], rows=tables[1].rows.drop(columns="cycle")),
        ]
        with pytest.raises(ValueError, match="lack declared columns"):
            target.publish(CYCLE, broken)
        for t in tables:
            pd.testing.assert_frame_equal(
                sorted_frame(read_cycle(engine, t.schema, t.declared.name, CYCLE)), before[t.declared.name]
            )
    finally:
        engine.dispose()


def test_no_target_configured_writes_nothing():
    nothing = SqlTable(published_tables("public")[0], "pmm_public", pd.DataFrame())
    assert SqlPublicationTarget().publish(CYCLE, [nothing]) == {}


QUEUE_PROBE_LOCATION = TESTS / "queue_probe_location.py"


@contextmanager
def service(command: list, env: dict, log: Path):
    """A long-running Dagster service as the deployment starts it, in its own process group, stopped at the end."""
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop_process_group(process, timeout_s=30)


@pytest.mark.subprocess
def test_two_runs_submitted_at_once_are_dequeued_by_the_daemon_one_after_the_other(prod_instance, tmp_path):
    """The services and queue of deploy/ for real: a code location server, and deploy/workspace.yaml pointing
    the CLI and the daemon at it. Two runs of a job whose step is in the pool "warehouse" (as every warehouse
    step of the pipeline is) are submitted together while no daemon runs, so both wait in the queue; then
    `dagster-daemon run` dequeues and launches them. Both succeed, and the second was dequeued (RUN_STARTING,
    reported by the daemon) only after the first had finished: one warehouse run at a time."""
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._grpc.client import DagsterGrpcClient

    assert isinstance(prod_instance.run_coordinator, QueuedRunCoordinator)
    assert prod_instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4

    port = free_port()
    # The module's prod_instance fixture has put PMM_DAGSTER_PG_* into the environment.
    env = {
        **os.environ,
        "DAGSTER_HOME": prod_instance.root_directory,
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PMM_CODE_SERVER_HOST": "127.0.0.1",
        "PMM_CODE_SERVER_PORT": str(port),
    }
    bin_dir = Path(sys.executable).parent
    workspace = DEPLOY / "workspace.yaml"
    code_server = [
        bin_dir / "dagster",
        "code-server",
        "start",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-f",
        QUEUE_PROBE_LOCATION,
        "--location-name",
        "pmm_pipeline",
    ]
    with service(code_server, env, tmp_path / "code_server.log") as server:
        client = DagsterGrpcClient(host="127.0.0.1", port=port)

        def serving() -> bool:
            assert server.poll() is None, (tmp_path / "code_server.log").read_text()[-3000:]
            return client.health_check_query() == "SERVING"

        until(serving, "the code location server")
        # The deployment step of the README: without it the daemon's first pass over queued runs of a pool it
        # has not seen yet dequeues them all (it reads the configured pools before applying default_limit).
        subprocess.run(
            [bin_dir / "dagster", "instance", "concurrency", "set", "warehouse", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
        run_ids = [make_new_run_id() for _ in range(2)]
        launches = [
            subprocess.Popen(
                [bin_dir / "dagster", "job", "launch", "-w", workspace, "-j", "queue_probe_job", "--run-id", run_id],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for run_id in run_ids
        ]
        for launch in launches:
            _, errors = launch.communicate(timeout=120)
            assert launch.returncode == 0, errors
        assert [prod_instance.get_run_by_id(run_id).status for run_id in run_ids] == [dg.DagsterRunStatus.QUEUED] * 2

        finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
        daemon_log = tmp_path / "daemon.log"
        with service([bin_dir / "dagster-daemon", "run", "-w", workspace], env, daemon_log) as daemon:
            until(
                lambda: (
                    {prod_instance.get_run_by_id(run_id).status for run_id in run_ids} <= finished
                    or daemon.poll() is not None
                ),
                "both runs finished",
            )
    statuses = [prod_instance.get_run_by_id(run_id).status for run_id in run_ids]
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 2, daemon_log.read_text()[-3000:]

    when = {run_id: event_times(prod_instance, run_id) for run_id in run_ids}
    for run_id in run_ids:
        assert set(when[run_id]) == {"RUN_ENQUEUED", "RUN_STARTING", "RUN_START", "RUN_SUCCESS"}, when[run_id]
    first, second = sorted(run_ids, key=lambda run_id: when[run_id]["RUN_START"])
    assert when[first]["RUN_SUCCESS"] <= when[second]["RUN_STARTING"]
    assert when[first]["RUN_SUCCESS"] <= when[second]["RUN_START"]


def until(condition, what: str, timeout: float = 300) -> None:
    """Poll `condition` until it holds; fail naming `what` after a generous `timeout` (a bound, not a measure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for: {what}"
        time.sleep(0.5)


def event_times(instance, run_id) -> dict[str, float]:
    """When each run lifecycle event of the run was stored (seconds since the epoch)."""
    kinds = {
        dg.DagsterEventType.RUN_ENQUEUED,
        dg.DagsterEventType.RUN_STARTING,
        dg.DagsterEventType.RUN_START,
        dg.DagsterEventType.RUN_SUCCESS,
    }
    return {entry.dagster_event.event_type.name: entry.timestamp for entry in instance.all_logs(run_id, of_type=kinds)}
