"""Concurrent uploads lose nothing and record each file once, with versions the intake agrees with (#14 item 3).

50 uploads of 50 members at once from threads of one process, and uploads of one member from several processes
and threads at once; then the cycle's intake runs and every verdict is compared with what it recorded.
"""

import json
import subprocess
import sys
import threading

import pytest

from pmm_pipeline.stages.delivery import deliver_upload
from pmm_pipeline.stages.ingestion.arrivals import notes_path, read_arrivals
from pmm_pipeline_tests.conftest import settings_for
from pmm_pipeline_tests.paths import CHECKOUT
from pmm_pipeline_tests.stages.delivery.intake_cases import CYCLE, at, query, run_intake, submission

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = [pytest.mark.cycle, pytest.mark.subprocess]

# One process of uploads of KEN: what a second server process of the platform does.
PROCESS_SCRIPT = """
import datetime as dt, json, sys
from dataclasses import replace
from pathlib import Path

import pytest
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.stages.delivery import deliver_upload
from pmm_pipeline_tests.stages.delivery.intake_cases import submission

data_dir, tag, n, start = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.stdin.readline()
settings = replace(Settings.from_env({}), data_dir=data_dir)
out = []
for i in range(n):
    received = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # all at once: the lock's order decides
    v = deliver_upload(settings, "2027", f"KEN_{tag}_{i}.json", submission("KEN", 100 + i + 10 * len(tag)),
                       account=f"ken-{tag}", member="KEN", received_at=received)
    out.append([v.sha256, v.version, v.landing_name, v.status])
print(json.dumps(out))
"""


def in_threads(calls) -> list:
    """Run the calls at once (a barrier releases them together); their results, or the first error."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread below
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def test_fifty_members_at_once_lose_none_and_record_each_once(tmp_path, reference):
    settings = settings_for(tmp_path)
    cycle = reference.cycles.get(CYCLE)
    members = sorted(reference.members_in_force(cycle))[:50]
    calls = [
        (
            lambda m=m, i=i: deliver_upload(
                settings, CYCLE, f"{m}.json", submission(m, 500 + i), account=f"{m}-ncp", member=m, received_at=at(0)
            )
        )
        for i, m in enumerate(members)
    ]
    verdicts = in_threads(calls)
    assert sorted(v.member for v in verdicts) == members and {v.version for v in verdicts} == {1}
    assert len(read_arrivals(notes_path(settings.layout.archive_dir, CYCLE)).notes) == 50
    landed = [p.name for p in settings.layout.landing_dir(CYCLE).iterdir()]
    assert sorted(landed) == sorted(v.landing_name for v in verdicts)  # no staged file left behind
    run_intake(settings)
    rows = query(settings, "SELECT submission_id, member_code, version, account FROM raw.submissions")
    assert sorted((r["submission_id"], r["member_code"], r["version"]) for r in rows) == sorted(
        (v.sha256, v.member, v.version) for v in verdicts
    )
    assert {r["account"] for r in rows} == {f"{m}-ncp" for m in members}


def test_one_member_from_processes_and_threads_gets_distinct_versions_the_intake_agrees_with(tmp_path):
    settings = settings_for(tmp_path)
    per_process, processes = 4, []
    for tag in ("p", "qq"):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", PROCESS_SCRIPT, str(tmp_path), tag, str(per_process)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=CHECKOUT,
                env={"PYTHONPATH": str(CHECKOUT), "DAGSTER_DISABLE_TELEMETRY": "1", "PATH": "/usr/bin:/bin"},
            )
        )
    for process in processes:  # each imports first, then all start at once with the threads below
        process.stdin.write("go\n")
        process.stdin.flush()
    threaded = in_threads(
        [
            (
                lambda i=i: deliver_upload(
                    settings,
                    CYCLE,
                    f"KEN_t{i}.json",
                    submission("KEN", 300 + i),
                    account="ken-t",
                    member="KEN",
                    received_at=at(0),
                )
            )
            for i in range(4)
        ]
    )
    outcomes = [(v.sha256, v.version, v.landing_name, v.status) for v in threaded]
    for process in processes:
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0
        outcomes += [tuple(o) for o in json.loads(out.strip().splitlines()[-1])]
    assert all(status == "accepted" for *_, status in outcomes)
    versions = sorted(version for _, version, _, _ in outcomes)
    assert versions == list(range(1, len(outcomes) + 1))  # distinct, none skipped
    run_intake(settings)
    recorded = {
        r["submission_id"]: r["version"]
        for r in query(settings, "SELECT submission_id, version FROM raw.submissions WHERE member_code = 'KEN'")
    }
    assert recorded == {sha: version for sha, version, _, _ in outcomes}
