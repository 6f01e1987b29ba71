"""Shared fixtures: settings on temporary folders, and a whole cycle run over the hand-made submissions."""

import os
import shutil
import signal
import subprocess
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import Catalogue, load_catalogue
from pmm_pipeline.specs.reference.load import Reference, load_reference

FIXTURES = Path(__file__).parent / "fixtures"

# Tests never talk to the network; Dagster must not try to send telemetry.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="module")
def reference() -> Reference:
    """The shipped members, groups and cycles."""
    settings = Settings.from_env({})
    return load_reference(settings.reference_dir, settings.cycles_file)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """The shipped KPI catalogue."""
    return load_catalogue(Settings.from_env({}).specs_dir)


def stop_process_group(process: subprocess.Popen, timeout_s: float) -> None:
    """Stop a service started with start_new_session=True and everything it started: TERM, then KILL.

    The group id is the leader's pid (start_new_session=True). The group is always KILLed at the end:
    a leader that exits on TERM in time may leave children that ignored it still running.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:  # the whole group has already gone
        pass
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # no member of the group is left
        pass
    process.wait()


def settings_for(data_dir: Path) -> Settings:
    """The shipped catalogue and reference data, with every data folder under `data_dir`."""
    return replace(Settings.from_env({}), data_dir=data_dir)


def run_cycle_in_process(settings: Settings, cycle: str, instance: dg.DagsterInstance | None = None):
    from pmm_pipeline.definitions import build_definitions
    from pmm_pipeline.defs.jobs import CYCLE_JOB

    job = build_definitions(settings).resolve_job_def(CYCLE_JOB)
    return job.execute_in_process(
        partition_key=cycle, instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


@pytest.fixture(scope="module")
def fixture_cycle(tmp_path_factory):
    """Cycle 2023 run once over fixtures/cycle_2023/landing; yields (settings, run result)."""
    data_dir = tmp_path_factory.mktemp("data")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / "2023")
    settings = settings_for(data_dir)
    result = run_cycle_in_process(settings, "2023")
    yield settings, result


@pytest.fixture(scope="session")
def released_once_workspace(tmp_path_factory):
    """A workspace whose (reopened) cycle 2023 was released once, with FRA's second version landed since, and a
    copy of it run once more with nothing killed: (prepared, clean). Shared by the release and kill-and-corrupt
    tests (each works on copies), so the two whole-cycle runs happen once per session."""
    import yaml

    from pmm_pipeline_tests.test_release_reproducible import FRA_V2, workspace_settings

    prepared = tmp_path_factory.mktemp("released_once")
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", prepared / "data" / "landing" / "2023")
    cycles = yaml.safe_load(Settings.from_env({}).cycles_file.read_text())
    next(c for c in cycles["cycles"] if c["id"] == "2023")["reopened_until"] = "2099-12-31"
    (prepared / "cycles.yaml").write_text(yaml.safe_dump(cycles))
    assert run_cycle_in_process(workspace_settings(prepared), "2023").success
    (prepared / "data" / "landing" / "2023" / "FRA_v2.json").write_text(FRA_V2)
    clean = tmp_path_factory.mktemp("clean") / "w"
    shutil.copytree(prepared, clean)
    assert run_cycle_in_process(workspace_settings(clean), "2023").success
    return prepared, clean
