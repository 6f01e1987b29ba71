"""Issue 16, errors that say what happened: the failed step, the file or table, the cause and what to do;
no retry of what a retry cannot fix; a corrupt warehouse caught before any step writes."""

import errno
import io
import os
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pmm_pipeline.app.cli import main
from pmm_pipeline.app.run import describe_failures, run_cycle
from pmm_pipeline.core.errors import ArchiveIntegrityError, CorruptWarehouseError
from pmm_pipeline.orchestration.failures import MAX_RETRIES_TAG, as_failure, guard_compute
from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.warehouse.connection import WarehouseBusyError, open_warehouse, verify_warehouse
from pmm_pipeline_tests.conftest import FIXTURES, settings_for, slow_fixture

ENOSPC_TEXT = os.strerror(errno.ENOSPC)


# --- classification: what is retried and what fails at once, with which words ----------------------


@pytest.mark.parametrize(
    "err,words",
    [
        (OSError(errno.ENOSPC, ENOSPC_TEXT, "/data/archive/ab/cd.json"), ["disk full", "/data/archive/ab/cd.json"]),
        (OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/data/published/x.csv"), ["disk full", "/data/published"]),
        # DuckDB's own words on a full disk (seen on a 1 MiB tmpfs with duckdb 2.0).
        (
            duckdb.IOException(f'IO Error: Could not write file "/d/warehouse.duckdb": {ENOSPC_TEXT}'),
            ["disk full", "/d/warehouse.duckdb"],
        ),
        # pyarrow and others wrap the OSError: the cause behind still decides.
        (RuntimeError("could not write the release"), ["disk full"]),
        (ArchiveIntegrityError("archive copy archive/ab/abcd of KEN.json no longer hashes to abcd"), ["KEN.json"]),
        (CorruptWarehouseError("the warehouse /d/w.duckdb is corrupt"), ["/d/w.duckdb"]),
        (KeyError("kpi_id"), ["KeyError", "not retried"]),
        (duckdb.CatalogException("Catalog Error: Table with name x does not exist!"), ["CatalogException"]),
    ],
)
def test_what_a_retry_cannot_fix_fails_at_once_naming_the_cause(err, words):
    if isinstance(err, RuntimeError):
        err.__cause__ = OSError(errno.ENOSPC, ENOSPC_TEXT, "/data/published/2023/public/kpi_values.parquet")
    failure = as_failure(err)
    assert isinstance(failure, dg.Failure) and failure.allow_retries is False
    assert "\n" not in failure.description
    for word in words:
        assert word in failure.description


@pytest.mark.parametrize(
    "err",
    [
        WarehouseBusyError(Path("/d/warehouse.duckdb"), 301.0, "pid 1 on host"),
        TimeoutError("the SQL target did not answer"),
        ConnectionResetError(errno.ECONNRESET, "reset"),
        duckdb.IOException('IO Error: Could not set lock on file "/d/warehouse.duckdb": Conflicting lock'),
        duckdb.TransactionException("TransactionContext Error: Conflict on update"),
    ],
)
def test_what_can_pass_on_a_second_try_is_left_to_the_retry_policy(err):
    assert as_failure(err) is err


def test_a_retryable_failure_raised_from_a_full_disk_is_not_retried():
    try:
        try:
            raise OSError(errno.ENOSPC, ENOSPC_TEXT, "/data/quality/2023/run/index.html")
        except OSError as full:
            raise dg.Failure(description="could not write the Data Docs", allow_retries=True) from full
    except dg.Failure as failure:
        replaced = as_failure(failure)
    assert replaced.allow_retries is False and replaced.description == "could not write the Data Docs"


def test_a_huge_message_is_cut_before_it_reaches_the_event_log():
    @guard_compute
    def step():
        raise ValueError("x" * 5_000_000)

    with pytest.raises(dg.Failure) as raised:
        step()
    assert len(raised.value.description) <= 1_000
    assert len(str(raised.value.__cause__)) < 10_000  # Dagster stores the cause with its message


# --- through Dagster: the policy that wraps every asset and check ----------------------------------


_TWO_RETRIES = dg.RetryPolicy(max_retries=2)


def _job(assets, retry=_TWO_RETRIES):
    defs = dg.Definitions(
        assets=apply_asset_policies(assets),
        jobs=[
            dg.define_asset_job(
                "j", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor, op_retry_policy=retry
            )
        ],
    )
    return defs.resolve_job_def("j")


def test_every_asset_and_check_is_guarded_in_the_code_location(tmp_path):
    from pmm_pipeline.definitions import build_definitions

    defs = build_definitions(settings_for(tmp_path))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable]
    assert assets and all(getattr(a.op.compute_fn.decorated_fn, "__pmm_guarded__", False) for a in assets)


@pytest.mark.cycle
def test_a_full_disk_is_not_retried_and_the_run_says_which_file():
    target = "/data/published/2023/public/kpi_values.csv"

    @dg.asset
    def release():
        raise OSError(errno.ENOSPC, ENOSPC_TEXT, target)

    with dg.instance_for_test() as instance:
        result = _job([release]).execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        [line] = describe_failures(result.all_events)
        assert line.startswith("step release: disk full while writing " + target)
        assert "free space" in line
        # Run retries (dagster.yaml run_retries) read this tag when the run fails.
        assert instance.get_run_by_id(result.run_id).tags[MAX_RETRIES_TAG] == "0"


@pytest.mark.cycle
def test_a_transient_failure_is_retried_and_then_named_not_hidden_behind_max_retries():
    attempts = []

    @dg.asset
    def busy():
        attempts.append(1)
        raise TimeoutError("the SQL target at db.example did not answer")

    result = _job([busy]).execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert len(attempts) == 3
    [line] = describe_failures(result.all_events)
    assert "TimeoutError: the SQL target at db.example did not answer" in line
    assert "Exceeded max_retries of 2" in line


@pytest.mark.cycle
def test_a_failed_error_check_is_reported_with_its_description():
    @dg.asset(check_specs=[dg.AssetCheckSpec("archive_copies_intact", asset="raw_files")])
    def raw_files():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(
            check_name="archive_copies_intact",
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description="archive/ab/abcd (KEN_2023.json) no longer hashes to abcd",
        )

    @dg.asset(check_specs=[dg.AssetCheckSpec("a_data_finding", asset="answers")])
    def answers():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="a_data_finding", passed=False, severity=dg.AssetCheckSeverity.WARN)

    result = _job([raw_files, answers]).execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success  # every step passed ...
    lines = describe_failures(result.all_events)
    # ... but the ERROR check failed; a WARN finding is the data's, not a failure of the run
    assert lines == [
        "check archive_copies_intact on raw_files failed: archive/ab/abcd (KEN_2023.json) no longer hashes to abcd"
    ]


# --- a corrupt warehouse, caught before any step writes ---------------------------------------------


def _real_warehouse(path: Path) -> None:
    with open_warehouse(path) as conn:
        conn.execute("CREATE SCHEMA raw")
        conn.execute("CREATE TABLE raw.answers AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(300000)")
        conn.execute("CHECKPOINT")


def _random_bytes(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(200_000))


def _truncated(path: Path) -> None:
    _real_warehouse(path)
    os.truncate(path, path.stat().st_size * 3 // 4)


def _truncated_slightly(path: Path) -> None:
    # Cut in the last block: DuckDB still opens it; the file is shorter than its own header says.
    _real_warehouse(path)
    os.truncate(path, path.stat().st_size - 1000)


@pytest.mark.parametrize("spoil", [_random_bytes, _truncated, _truncated_slightly])
def test_a_corrupt_warehouse_is_named_with_what_to_do(tmp_path, spoil):
    path = tmp_path / "warehouse.duckdb"
    spoil(path)
    with pytest.raises(CorruptWarehouseError) as raised:
        verify_warehouse(path)
    message = str(raised.value)
    assert str(path) in message and "restore it from a backup" in message and "move it aside" in message


def test_a_sound_or_absent_warehouse_passes_the_check(tmp_path):
    verify_warehouse(tmp_path / "none.duckdb")
    assert not (tmp_path / "none.duckdb").exists()
    _real_warehouse(tmp_path / "w.duckdb")
    verify_warehouse(tmp_path / "w.duckdb")


def test_a_corrupt_block_met_mid_step_is_a_corrupt_warehouse_not_a_retry(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    _real_warehouse(path)
    with open(path, "r+b") as handle:  # a data block (the first after the headers), not the catalog
        handle.seek(3 * 4096 + 5000)
        handle.write(os.urandom(64))
    with pytest.raises(CorruptWarehouseError, match="restore it from a backup") as raised:
        with open_warehouse(path) as conn:
            conn.execute("SELECT sum(i), max(s) FROM raw.answers").fetchall()
    assert as_failure(raised.value).allow_retries is False


@pytest.mark.cycle
def test_the_warehouse_resource_refuses_a_corrupt_file_before_a_step_and_the_run_is_not_retried(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    _random_bytes(path)
    before = path.read_bytes()
    steps = []

    @dg.asset
    def writes(warehouse: Warehouse):
        steps.append(1)
        with warehouse.get_connection() as conn:
            conn.execute("CREATE TABLE t AS SELECT 1")

    defs = dg.Definitions(
        assets=apply_asset_policies([writes]),
        jobs=[dg.define_asset_job("j", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor)],
        resources={"warehouse": Warehouse(database=str(path))},
    )
    settings = {"run_retries": {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}}
    with dg.instance_for_test(overrides=settings) as instance:
        result = defs.resolve_job_def("j").execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success and not steps
        [line] = describe_failures(result.all_events)
        assert line.startswith("resources: CorruptWarehouseError: the warehouse " + str(path))
        tags = instance.get_run_by_id(result.run_id).tags
        assert tags[MAX_RETRIES_TAG] == "0" and tags["dagster/will_retry"] == "false"
    assert path.read_bytes() == before


def test_the_warehouse_resource_outside_a_run_checks_on_first_use(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    _truncated(path)
    with pytest.raises(CorruptWarehouseError):
        with Warehouse(database=str(path)).get_connection():
            pass


# --- through run_cycle and the command line ---------------------------------------------------------


@pytest.fixture
@slow_fixture("cycle")
def cycle_data(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / "2023")
    monkeypatch.setenv("PMM_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return settings_for(data_dir)


def test_pmm_run_over_a_corrupt_warehouse_starts_nothing_and_says_what_to_do(cycle_data, capsys):
    path = cycle_data.layout.warehouse_path
    _random_bytes(path)
    before = path.read_bytes()
    assert main(["run", "--cycle", "2023"]) == 1
    out, err = capsys.readouterr()
    assert "no run started FAILED" in out
    assert f"pmm: error: cycle 2023: warehouse check: the warehouse {path} is corrupt" in err
    assert "restore it from a backup" in err and "move it aside" in err
    assert path.read_bytes() == before  # nothing wrote to it
    assert not (cycle_data.layout.archive_dir).exists()  # no step ran


class _FullUnder:
    """Every way the pipeline creates a file for writing fails with ENOSPC under `folder`: tempfile.mkstemp,
    os.open with O_CREAT or O_WRONLY, and open()/Path.write_* in a writing mode."""

    def __init__(self, folder: Path, monkeypatch):
        self.folder = str(folder)
        real_mkstemp, real_os_open, real_open = tempfile.mkstemp, os.open, io.open

        def full(path):
            return OSError(errno.ENOSPC, ENOSPC_TEXT, str(path))

        def mkstemp(*args, **kwargs):
            folder = kwargs.get("dir") or (args[2] if len(args) > 2 else None)
            if folder and self._under(folder):
                raise full(Path(folder) / ".incoming-x")
            return real_mkstemp(*args, **kwargs)

        def os_open(path, flags, *args, **kwargs):
            if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR) and self._under(path):
                raise full(path)
            return real_os_open(path, flags, *args, **kwargs)

        def open_(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, Path)) and any(m in mode for m in "wax+") and self._under(file):
                raise full(file)
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr("builtins.open", open_)
        monkeypatch.setattr(io, "open", open_)

    def _under(self, path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(self.folder + os.sep)


def _run(settings):
    with dg.instance_for_test() as instance:
        outcome = run_cycle(settings, "2023", instance=instance)
        retried = (
            [e for e in instance.all_logs(outcome.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)]
            if outcome.run_id
            else []
        )
    return outcome, retried


def test_a_full_disk_under_the_archive_fails_intake_at_once_naming_the_archive(cycle_data, monkeypatch):
    archive = cycle_data.layout.archive_dir
    _FullUnder(archive, monkeypatch)
    outcome, retried = _run(cycle_data)
    assert not outcome.success and not retried
    [line] = [f for f in outcome.failures if "disk full" in f]
    assert line.startswith("step take_in_landing_files: disk full while writing " + str(archive))
    assert "free space" in line


def test_a_full_disk_under_the_release_folder_fails_publication_naming_the_file(cycle_data, monkeypatch):
    published = cycle_data.layout.data_dir / "published"
    _FullUnder(published, monkeypatch)
    outcome, retried = _run(cycle_data)
    assert not outcome.success and not retried
    lines = [f for f in outcome.failures if "disk full" in f]
    # The releases, and the members' feedback written beside them, each fail naming their file.
    assert any(line.startswith("step publish_public__releases: disk full while writing") for line in lines)
    assert lines and all(f"disk full while writing {published}" in line for line in lines)


def test_a_full_disk_under_the_warehouse_names_the_warehouse(cycle_data, monkeypatch):
    # DuckDB writes in C: its words on a full disk (seen on a tmpfs) are raised where a table is written.
    import pmm_pipeline.defs.ingestion as ingestion

    path = cycle_data.layout.warehouse_path

    def full(*args, **kwargs):
        raise duckdb.IOException(f'IO Error: Could not write file "{path}": {ENOSPC_TEXT}')

    monkeypatch.setattr(ingestion, "write_raw_tables", full)
    outcome, retried = _run(cycle_data)
    assert not outcome.success and not retried
    [line] = outcome.failures
    assert line.startswith(f"step take_in_landing_files: disk full while writing the warehouse {path}")


def test_a_failed_error_check_makes_pmm_run_fail(cycle_data, monkeypatch, capsys):
    # Any ERROR check: here the quality gate's own promise (no blocked member admitted) is made to fail.
    import pmm_pipeline.defs.quality as quality

    monkeypatch.setattr(quality, "members_wrongly_admitted", lambda conn, cycle: {"known_codes": ["KEN"]})
    assert main(["run", "--cycle", "2023"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED" in out
    # Issue 18: the gate's promise is its own check (a guarantee), apart from the rule's data finding.
    assert "pmm: error: cycle 2023: check gate_admitted_no_blocked_member on quality/admitted_answers failed:" in err
    assert "the gate admitted 1 member with a blocking finding (known_codes: KEN)" in err
