"""Overlapping runs never meet DuckDB's single-writer lock ("Could not set lock on file").

Each round launches together, in four worker processes, against the same PMM_DATA_DIR and the same
on-disk Dagster instance (DAGSTER_HOME as orchestration/instance.py writes it):
- a backfill over two cycles: cycle_job for 2023 and for 2025;
- a member re-run of cycle 2023 (tagged with the member and its file) while those run;
- the landing sensor's run for a resubmission that has just arrived in landing/2025/.
In one round the backfill and the sensor's run go through the whole cycle job; ROUNDS more rounds
run only the cycle job's intake and staging steps (~1 s instead of ~10 s: the shorter the steps, the
more often the runs contend for the warehouse; five rounds, about 20 launches contending, keep the
module near half a minute of the suite's budget).
Every run must succeed with no step failed or retried, no event may mention a lock, the runs of a
round must truly overlap in time while their steps use the warehouse one run after the other (the
warehouse resource's turn), and the warehouse ends with the values worked out by hand.
"""

import concurrent.futures
import multiprocessing
import os
import shutil

import dagster as dg
import pytest
import yaml

from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.orchestration.instance import ensure_dagster_home
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.sample.generate import generate_sample
from pmm_pipeline.warehouse.connection import open_warehouse
from pmm_pipeline_tests.conftest import FIXTURES, settings_for, slow_fixture

ROUNDS = 5
WORKERS = 4
EXPECTED = yaml.safe_load((FIXTURES / "cycle_2023" / "expected.yaml").read_text())
LOCK_WORDS = ("could not set lock", "conflicting lock", "lock on file", "warehouse stayed in use")
TROUBLE_EVENTS = {"STEP_FAILURE", "STEP_UP_FOR_RETRY", "STEP_RESTARTED", "RUN_FAILURE"}
STEP_EVENTS = {"STEP_START", "STEP_SUCCESS"}
INTAKE_LAYERS = ("raw", "staging")

_worker: dict[str, object] = {}  # per worker process: the code location and the jobs resolved from it


def _start_worker(env: dict[str, str]) -> None:
    os.environ.update(env)


def _load_definitions(barrier) -> int:
    """Load the code location and resolve the jobs once per worker; the barrier gives each worker one."""
    from pmm_pipeline.core.settings import Settings

    defs = build_definitions(Settings.from_env())
    job = defs.resolve_job_def("cycle_job")
    intake = {k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] in INTAKE_LAYERS}
    _worker.update({"whole": job, "intake": job.get_subset(asset_selection=intake)})
    barrier.wait(timeout=120)
    return os.getpid()


def execute_run(cycle: str, tags: dict[str, str], intake_only: bool, start) -> str:
    """Run the cycle job in process, in a worker process, against the instance at DAGSTER_HOME.

    `start` is a barrier shared by the runs of a round: they all start at the same moment.
    """
    job = _worker["intake" if intake_only else "whole"]
    with dg.DagsterInstance.get() as instance:
        start.wait(timeout=300)
        result = job.execute_in_process(partition_key=cycle, instance=instance, tags=tags, raise_on_error=False)
    return result.run_id


@pytest.fixture(scope="module")
@slow_fixture("cycle", "subprocess")
def shared(tmp_path_factory):
    root = tmp_path_factory.mktemp("overlap")
    data_dir = root / "data"
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", data_dir / "landing" / "2023")
    settings = settings_for(data_dir)
    generate_sample(
        reference=load_reference(settings.reference_dir, settings.cycles_file),
        catalogue=load_catalogue(settings.specs_dir),
        cycle_id="2025",
        landing_dir=settings.layout.landing_dir("2025"),
        members=6,
        seed=11,
    )
    env = {"PMM_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(root / "dagster_home"), "DAGSTER_DISABLE_TELEMETRY": "1"}
    ensure_dagster_home(env)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the sensor is evaluated here, against the same instance
    context = multiprocessing.get_context("spawn")  # no fork of a process holding Dagster's threads
    try:
        with (
            context.Manager() as manager,
            concurrent.futures.ProcessPoolExecutor(
                WORKERS, mp_context=context, initializer=_start_worker, initargs=(env,)
            ) as pool,
        ):
            barrier = manager.Barrier(WORKERS)
            pids = [f.result(timeout=300) for f in [pool.submit(_load_definitions, barrier) for _ in range(WORKERS)]]
            assert len(set(pids)) == WORKERS
            defs = build_definitions(settings)
            with dg.DagsterInstance.get() as instance:
                # The sensor has seen the landing folders as they are; each round, a member resubmits.
                _, cursor = sensor_tick(defs, instance, None)
                yield {
                    "settings": settings,
                    "pool": pool,
                    "start": manager.Barrier(WORKERS),
                    "defs": defs,
                    "instance": instance,
                    "cursor": cursor,
                }
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def sensor_tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"storage": defs.resources["storage"]}, definitions=defs
    )
    data = defs.resolve_sensor_def("landing_file_sensor").evaluate_tick(context)
    return data.run_requests, data.cursor


def launch_round(shared: dict, label: str, whole: bool) -> list[str]:
    """Resubmit a file, tick the sensor, then launch the four runs together; returns their run ids.

    `whole`: the backfill and the sensor's run go through the whole cycle job; the member re-run,
    like every run of the other rounds, through its intake and staging steps.
    """
    landing = shared["settings"].layout.landing_dir("2025")
    template = sorted(p for p in landing.glob("*.json") if "_resent_" not in p.name)[0]
    resubmission = landing / f"{template.stem}_resent_{label}.json"
    resubmission.write_bytes(template.read_bytes().replace(b'"submitted_at": "', b'"submitted_at":  "', 1))
    requests, shared["cursor"] = sensor_tick(shared["defs"], shared["instance"], shared["cursor"])
    assert [(r.partition_key, r.tags["pmm/source_file"]) for r in requests] == [("2025", resubmission.name)]
    assert shared["defs"].resolve_sensor_def("landing_file_sensor").job_name == "collection_job"
    pool, start = shared["pool"], shared["start"]
    futures = [
        pool.submit(execute_run, "2023", {"pmm/backfill": label}, not whole, start),
        pool.submit(execute_run, "2025", {"pmm/backfill": label}, not whole, start),
        pool.submit(execute_run, "2023", {"pmm/member": "KEN", "pmm/source_file": "KEN_v2.json"}, True, start),
        pool.submit(execute_run, requests[0].partition_key, requests[0].tags, not whole, start),
    ]
    return [f.result(timeout=600) for f in futures]


def troubles(instance: dg.DagsterInstance, run_ids: list[str]) -> tuple[list, bool, bool]:
    """Failures, retries and lock messages of the runs; whether the runs all overlapped in time; and
    whether they nevertheless used the warehouse one after the other (their steps never interleaved)."""
    problems, step_spans = [], []
    records = [instance.get_run_record_by_id(run_id) for run_id in run_ids]
    for record in records:
        run = record.dagster_run
        if run.status != dg.DagsterRunStatus.SUCCESS:
            problems.append((run.run_id, run.status))
        events = instance.all_logs(run.run_id)
        for event in events:
            if event.dagster_event and event.dagster_event.event_type_value in TROUBLE_EVENTS:
                problems.append((run.run_id, event.dagster_event.event_type_value, event.message))
            elif any(word in (event.message or "").lower() for word in LOCK_WORDS):
                problems.append((run.run_id, "lock", event.message))
        steps = [e.timestamp for e in events if e.dagster_event and e.dagster_event.event_type_value in STEP_EVENTS]
        step_spans.append((min(steps), max(steps)))
    # Every run of the round was in progress at one moment (an in-process run starts when created).
    overlapped = max(r.create_timestamp.timestamp() for r in records) < min(r.end_time for r in records)
    step_spans.sort()
    one_after_another = all(end < start for (_, end), (start, _) in zip(step_spans, step_spans[1:], strict=False))
    return problems, overlapped, one_after_another


def test_whole_cycle_runs_overlap_without_lock_errors(shared):
    run_ids = launch_round(shared, "whole", whole=True)
    assert troubles(shared["instance"], run_ids) == ([], True, True)
    sensor_run = shared["instance"].get_run_by_id(run_ids[3])
    assert sensor_run.tags["pmm/cycle"] == "2025" and sensor_run.tags["pmm/source_file"].endswith("_resent_whole.json")
    member_run = shared["instance"].get_run_by_id(run_ids[2])
    assert (member_run.tags["pmm/member"], member_run.tags["pmm/source_file"]) == ("KEN", "KEN_v2.json")

    with open_warehouse(shared["settings"].layout.warehouse_path) as conn:
        participating = conn.execute(
            "SELECT member_code FROM staging.participation WHERE cycle = '2023' AND is_participating ORDER BY 1"
        ).fetchall()
        ken = conn.execute(
            "SELECT value FROM kpi.kpi_values WHERE cycle = '2023' AND member_code = 'KEN'"
            " AND kpi_id = 'electronic_declaration_rate'"
        ).fetchall()
        releases = conn.execute(
            "SELECT cycle, count(*) FROM publish_secretariat.releases GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert [m for (m,) in participating] == EXPECTED["participating"]
    assert ken == [(EXPECTED["kpi_values"]["electronic_declaration_rate"]["total"]["KEN"][1],)]
    # The first of the two 2025 runs released; the other reused that release when it found the same inputs, or
    # released again when the 2023 release landed between the two (its figures are the 2025 report's trends, so
    # they are in the release's key): which happens depends on the order the pool gives the runs.
    assert releases[0] == ("2023", 1) and releases[1] in (("2025", 1), ("2025", 2))


def test_rounds_of_overlapping_runs_never_meet_the_lock(shared):
    outcomes = []
    for round_number in range(ROUNDS):
        run_ids = launch_round(shared, str(round_number), whole=False)
        outcomes.append((round_number, len(run_ids), *troubles(shared["instance"], run_ids)))
    assert outcomes == [(n, 4, [], True, True) for n in range(ROUNDS)]

    with open_warehouse(shared["settings"].layout.warehouse_path) as conn:
        resent = conn.execute(
            "SELECT count(*) FROM raw.received_files WHERE cycle = '2025' AND file_name LIKE '%_resent_%'"
        ).fetchall()
        participating = conn.execute(
            "SELECT member_code FROM staging.participation WHERE cycle = '2023' AND is_participating ORDER BY 1"
        ).fetchall()
    # Every resubmission in landing recorded once: this test's rounds and, when the whole-cycle test ran before it on
    # this module's fixture (as it does in the suite: one module, one worker; not when this test is run alone), that
    # round's too.
    written = len(list(shared["settings"].layout.landing_dir("2025").glob("*_resent_*.json")))
    assert written in (ROUNDS, ROUNDS + 1)
    assert resent == [(written,)]
    assert [m for (m,) in participating] == EXPECTED["participating"]
