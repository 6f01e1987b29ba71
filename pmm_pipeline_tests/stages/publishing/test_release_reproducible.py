"""Releases are reproducible, atomic under SIGKILL, and say what changed against the previous release."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.release import write_release
from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for
from pmm_pipeline_tests.paths import CHECKOUT
from pmm_pipeline_tests.released_workspace import workspace
from pmm_pipeline_tests.stages.publishing.release_cases import info, kpi_rows, release_hashes, rollup_rows


@pytest.mark.cycle
def test_rerunning_a_cycle_gives_byte_identical_data_files(tmp_path: Path):
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", tmp_path / "landing" / "2023")
    settings = settings_for(tmp_path)
    first = run_cycle_in_process(settings, "2023")
    assert first.success
    published = settings.layout.published_dir("2023")
    before = release_hashes(published)
    assert {
        "public/tables_en.xlsx",
        "public/report_en.html",
        "public/report_fr.html",
        "public/report_es.html",
        "public/kpi_values.parquet",
        "secretariat/rollups.sdmx.csv",
    } <= set(before)
    # Without its reuse records every step computes again (a re-run would otherwise reuse: test_reuse.py).
    shutil.rmtree(settings.data_dir / "reuse")
    second = run_cycle_in_process(settings, "2023")
    assert second.success
    assert release_hashes(published) == before
    for tier in TIERS:
        manifest = json.loads((published / tier / "manifest.json").read_text())
        assert manifest["run_id"] == second.run_id
        changes = json.loads((published / tier / "changes.json").read_text())
        assert changes["previous_release"]["run_id"] == first.run_id
        assert all(n == 0 for table in changes["summary"].values() for n in table.values()), changes["summary"]
    assert not [p for p in published.iterdir() if p.name.startswith(".") and p.is_dir()]  # none building or retired


def test_changes_json_lists_values_changed_rows_added_and_removed_and_suppressions(tmp_path: Path):
    tier_dir = tmp_path / "public"
    write_release(
        tier_dir,
        {"kpi_values": kpi_rows({"KEN": 95.0, "FRA": 100.0}), "rollups": rollup_rows(97.5, None)},
        info("run-1"),
    )
    write_release(
        tier_dir,
        {"kpi_values": kpi_rows({"KEN": 90.0, "DEU": 75.0}), "rollups": rollup_rows(None, "mean:differencing")},
        info("run-2"),
    )
    changes = json.loads((tier_dir / "changes.json").read_text())
    assert changes["previous_release"]["run_id"] == "run-1"
    values = changes["tables"]["kpi_values"]
    assert [(r["member_code"], r["value"]) for r in values["added"]] == [("DEU", 75.0)]
    # Issue 16: a row that left the tier is listed by its key alone, never with its earlier values.
    assert values["removed"] == [{"member_code": "FRA", "kpi_id": "k", "series": "total"}]
    assert [(r["member_code"], r["before"], r["after"]) for r in values["changed"]] == [
        ("KEN", {"value": 95.0}, {"value": 90.0})
    ]
    rollups = changes["tables"]["rollups"]
    assert rollups["suppressions_changed"] == [
        {
            "kpi_id": "k",
            "series": "total",
            "group_type": "global",
            "group_code": "all",
            "before": None,
            "after": "mean:differencing",
        }
    ]
    # Issue 16: the mean withheld now is named as changed but its earlier figure is not quoted.
    assert rollups["changed"][0]["columns"] == ["mean", "suppressed", "suppression_reason"]
    assert rollups["changed"][0]["before"] == {"suppressed": False, "suppression_reason": None}
    assert changes["summary"]["kpi_values"] == {"added": 1, "removed": 1, "changed": 1}
    _, problems = read_release_files(tier_dir)
    assert problems == []


# Each scenario kills the releasing process with SIGKILL at one point; `patch` runs in the child first.
KILL_POINTS = {
    "while_writing_files": "release.write_parquet = die_after(release.write_parquet, 1)",
    "after_building_before_switch": "",  # verify= kills
    "after_switch_before_cleanup": "files.shutil.rmtree = die_after(files.shutil.rmtree, 0)",
    "between_renames_without_atomic_exchange": (
        "files.exchange_folders = lambda a, b: False\nfiles.os.replace = die_after(files.os.replace, 1)"
    ),
}
CHILD = """
import os, signal, sys
from pathlib import Path
import pandas as pd
from pmm_pipeline.core import files
from pmm_pipeline.stages.publishing import release
sys.path.insert(0, {tests!r})
from release_cases import kpi_rows, rollup_rows, info

def die_after(function, calls_allowed):
    count = [0]
    def wrapped(*args, **kwargs):
        if count[0] >= calls_allowed:
            os.kill(os.getpid(), signal.SIGKILL)
        count[0] += 1
        return function(*args, **kwargs)
    return wrapped

{patch}
verify = (lambda folder: os.kill(os.getpid(), signal.SIGKILL)) if {kill_in_verify} else None
release.write_release(Path({tier_dir!r}), {{"kpi_values": kpi_rows({{"KEN": 50.0}}), "rollups": rollup_rows(1.0, None)}},
                      info("run-killed"), verify=verify)
"""  # noqa: E501 -- the child's script is left as written


@pytest.mark.subprocess
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_sigkill_during_a_release_leaves_the_previous_one_readable_and_a_rerun_completes(tmp_path: Path, point):
    tier_dir = tmp_path / "published" / "2023" / "public"
    old = {"kpi_values": kpi_rows({"KEN": 95.0}), "rollups": rollup_rows(97.5, None)}
    write_release(tier_dir, old, info("run-1"))
    old_manifest = (tier_dir / "manifest.json").read_bytes()
    script = textwrap.dedent(CHILD).format(
        tests=str(Path(__file__).parent),
        patch=KILL_POINTS[point],
        kill_in_verify=point.startswith("after_building"),
        tier_dir=str(tier_dir),
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(CHECKOUT)},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    if point == "between_renames_without_atomic_exchange":
        # Without an atomic exchange the old release was renamed aside; the next release puts it back first.
        assert not tier_dir.exists()
        from pmm_pipeline.core.files import recover_folder

        recover_folder(tier_dir)
    frames, problems = read_release_files(tier_dir)
    assert problems == []
    shown = frames["kpi_values.parquet"].set_index("member_code")["value"].to_dict()
    if point == "after_switch_before_cleanup":
        assert shown == {"KEN": 50.0}  # switched in whole before the kill
    else:
        assert shown == {"KEN": 95.0} and (tier_dir / "manifest.json").read_bytes() == old_manifest
    write_release(tier_dir, {"kpi_values": kpi_rows({"KEN": 60.0}), "rollups": rollup_rows(2.0, None)}, info("run-3"))
    frames, problems = read_release_files(tier_dir)
    assert problems == [] and frames["kpi_values.parquet"]["value"].tolist() == [60.0]
    assert sorted(p.name for p in tier_dir.parent.iterdir()) == [".public.lock", "public"]  # half-built ones gone


# --- SIGKILL of a whole `pmm run` -------------------------------------------------------------------
PMM = str(Path(sys.executable).parent / "pmm")


def building(tier: str):
    return lambda data: any(data.glob(f"published/2023/.{tier}.building-*"))


# Each is observable progress of the second run, polled for; the run is killed as soon as it holds.
KILL_WHEN = {
    # The quality gate writes its Data Docs under quality/<cycle>/<run id>/ (the first run left one folder).
    "during_the_quality_gate": lambda data: len(list((data / "quality" / "2023").iterdir())) > 1,
    "while_building_the_public_release": building("public"),
    "after_switching_public_while_building_wco": building("wco"),
}


def tier_files(data: Path) -> dict[str, bytes]:
    published = data / "published" / "2023"
    return {
        p.relative_to(published).as_posix(): p.read_bytes()
        for tier in TIERS
        if (published / tier).exists()
        for p in sorted((published / tier).iterdir())
    }


@pytest.fixture(scope="module")
def second_run(released_once_workspace):
    """The released-once workspace, the data files its never-killed second run releases, and that release."""
    prepared, clean = released_once_workspace
    expected = release_hashes(clean / "data" / "published" / "2023")
    assert expected != release_hashes(prepared / "data" / "published" / "2023")
    return prepared, expected, clean / "data" / "published" / "2023"


def test_a_resubmission_shows_in_changes_json_as_the_value_it_changed(second_run):
    prepared, _, published = second_run
    first_run = json.loads((prepared / "data" / "published" / "2023" / "public" / "manifest.json").read_text())
    changes = json.loads((published / "public" / "changes.json").read_text())
    assert changes["previous_release"]["run_id"] == first_run["run_id"]
    values = changes["tables"]["kpi_values"]
    assert values["added"] == values["removed"] == []
    assert values["changed"] == [
        {
            "member_code": "FRA",
            "kpi_id": "electronic_declaration_rate",
            "series": "total",
            "columns": ["value"],
            "before": {"value": 100.0},
            "after": {"value": 90.0},
        }
    ]
    # The global median of the rate over KEN 95, FRA 100 and DEU 75 was KEN's 95; FRA's 90 moves it.
    rollups = {
        (r["group_type"], r["group_code"]): r
        for r in changes["tables"]["rollups"]["changed"]
        if r["kpi_id"] == "electronic_declaration_rate"
    }
    assert rollups[("global", "all")]["before"].get("median") == 95.0


@pytest.mark.subprocess
def test_sigkill_of_whole_runs_leaves_every_release_readable_and_a_rerun_completes(second_run, tmp_path):
    """Runs killed one after the other at each point of KILL_WHEN, each left as it was killed (its
    Dagster run never ended, its files half-written); then a run that completes."""
    prepared, expected, _ = second_run
    root = tmp_path / "w"
    shutil.copytree(prepared, root)
    published = root / "data" / "published" / "2023"
    first = tier_files(root / "data")
    for point, reached in KILL_WHEN.items():
        run = subprocess.Popen(
            [PMM, "run", "--cycle", "2023"],
            env=workspace(root),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not reached(root / "data"):
                assert run.poll() is None, f"the run ended before {point}"
                time.sleep(0.005)  # polling for progress, not timing anything
        finally:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=60)
        assert run.returncode == -signal.SIGKILL, point
        # Every tier holds a whole release, readable and as its manifest says: the first one untouched,
        # or (a tier switched in before the kill) the second one, complete.
        now = tier_files(root / "data")
        for tier in TIERS:
            frames, problems = read_release_files(published / tier)
            assert problems == [] and {"kpi_values.parquet", "tables_fr.xlsx#rollups"} <= set(frames), (point, tier)
            if point == "after_switching_public_while_building_wco" and tier == "public":
                new_public = {k: v for k, v in expected.items() if k.startswith("public/")}
                assert release_hashes(published, [tier]) == new_public
            else:
                assert {k: v for k, v in now.items() if k.startswith(f"{tier}/")} == {
                    k: v for k, v in first.items() if k.startswith(f"{tier}/")
                }, (point, tier)

    rerun = subprocess.run(
        [PMM, "run", "--cycle", "2023"], env=workspace(root), capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert release_hashes(published) == expected  # as a run never killed releases it
    assert all(read_release_files(published / tier)[1] == [] for tier in TIERS)
    assert not [p.name for p in published.iterdir() if p.name.startswith(".") and p.is_dir()]
    # The killed runs are not left "in progress" in the UI: the next `pmm run` failed them, saying why.
    with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
        newest = instance.get_runs(limit=len(KILL_WHEN) + 1)  # newest first: the re-run, then the killed ones
        assert [r.status for r in newest] == [dg.DagsterRunStatus.SUCCESS] + [dg.DagsterRunStatus.FAILURE] * len(
            KILL_WHEN
        )
        assert all(
            any("ended before the run did" in e.message for e in instance.all_logs(r.run_id)) for r in newest[1:]
        )
