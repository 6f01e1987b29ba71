"""The `pmm` command as a user runs it: sample, run through the Dagster instance, and clear one-line errors."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Every test here starts the installed `pmm` command.
pytestmark = pytest.mark.subprocess

PMM = str(Path(sys.executable).parent / "pmm")


def pmm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PMM, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return {
        **os.environ,
        "PMM_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PMM_UI_PORT": "3999",  # the links `pmm run` prints follow the setting `make dev` serves on
    }


def test_sample_then_run_records_the_run_in_the_instance(env):
    sample = pmm("sample", "--cycle", "2023", "--members", "12", "--seed", "3", "--error-share", "0.2", env=env)
    assert sample.returncode == 0, sample.stderr
    landing = Path(env["PMM_DATA_DIR"]) / "landing" / "2023"
    assert any(landing.glob("*.json"))

    run = pmm("run", "--cycle", "2023", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "cycle 2023: run" in run.stdout and "succeeded" in run.stdout
    assert "files rejected:" in run.stdout and "published:" in run.stdout
    assert re.search(r"feedback reports written: [1-9]", run.stdout)
    # Each step as it starts and ends on standard error: [n/N] step ... seconds, every n from 1 to N once.
    steps = re.findall(r"^\[(\d+)/(\d+)\] (\w+) \.\.\.(?: (\d+\.\d) s)?$", run.stderr, re.MULTILINE)
    ended = {name: int(n) for n, _, name, seconds in steps if seconds}
    totals = {int(total) for _, total, _, _ in steps}
    assert len(totals) == 1 and sorted(ended.values()) == list(range(1, totals.pop() + 1)), run.stderr
    # The run's warnings are lines of their own on the same stream, past Dagster's compute-log redirect.
    assert re.search(r"^warning: take_in_landing_files: rejected \S+: \[\w+\] ", run.stderr, re.MULTILINE), run.stderr
    assert " - dagster - WARNING - " not in run.stderr
    import yaml

    assert yaml.safe_load((Path(env["DAGSTER_HOME"]) / "dagster.yaml").read_text())["telemetry"] == {"enabled": False}

    import dagster as dg

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with dg.DagsterInstance.get() as instance:
            runs = instance.get_runs()
            assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
            assert runs[0].tags["dagster/partition"] == "2023"
            events = [e.dagster_event for e in instance.all_logs(runs[0].run_id) if e.dagster_event]
            steps_run = {e.step_key for e in events if e.is_step_success}
            assert set(ended) == steps_run
            link = f"http://127.0.0.1:3999/runs/{runs[0].run_id}"
            assert run.stdout.rstrip().endswith(link) and f"follow it in the Dagster UI: {link}" in run.stderr
    finally:
        del os.environ["DAGSTER_HOME"]


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["run", "--cycle", "1999"], "unknown cycle '1999'"),
        (["sample", "--cycle", "2023", "--members", "0"], "--members"),
        (["sample", "--cycle", "2023", "--format", "pdf"], "format"),
        (["sample", "--cycle", "2023", "--error-share", "2"], "--error-share"),
        (["specs", "check", "/nonexistent/specs"], "is not a folder"),
        (["run"], "--cycle"),
    ],
)
def test_bad_arguments_give_one_line_errors(env, args, fragment):
    done = pmm(*args, env=env)
    assert done.returncode != 0
    assert fragment in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip()]) <= 3


def test_run_fails_with_exit_1_when_the_pipeline_fails(tmp_path, env):
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the data folder should be")
    done = pmm(
        "run", "--cycle", "2023", env={**env, "PMM_DATA_DIR": str(blocked), "DAGSTER_HOME": str(tmp_path / "dh")}
    )
    assert done.returncode == 1
    assert "FAILED" in done.stdout and "failure:" in done.stdout
