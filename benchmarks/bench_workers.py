"""The worker processes of `make bench`: each measurement runs in a fresh one, `python -m benchmarks.bench worker
TASK ARGS` (benchmarks/bench.py starts them and reads the JSON each prints on its last line), so that its peak
resident set size belongs to that measurement alone. Also the ways the KPI stage's worker is run (WAYS).
"""

import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import cycle_runs

TEN_MILLION = 10_000_000


def shipped_context():
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.specs.catalogue.load import load_catalogue
    from pmm_pipeline.specs.reference.load import load_reference

    settings = Settings.from_env({})  # the shipped catalogue and reference data, whatever the environment says
    return load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir)


def open_warehouse_as_pipeline(path, memory_limit_setting: bool = True):
    """The warehouse connection as the pipeline opens it: DuckDB's memory_limit from PMM_WAREHOUSE_MEMORY_LIMIT.

    `memory_limit_setting=False`: DuckDB's own default (80 % of the machine's memory), for comparison.
    """
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.warehouse.connection import open_warehouse

    limit = Settings.from_env().warehouse_memory_limit if memory_limit_setting else None
    return open_warehouse(path, memory_limit=limit)


def member_documents(reference, catalogue):
    from benchmarks.kpi_warehouse import CYCLE
    from benchmarks.validation import every_member_answering

    return every_member_answering(reference, catalogue, CYCLE)


def worker_baseline(_args: dict) -> dict:
    """Imports what every worker imports and stops: the floor under every peak memory figure."""
    import benchmarks.kpi_rollups  # noqa: F401

    # The intake loop and the raw tables it feeds: what intake.py alone imported before they were split.
    from pmm_pipeline.stages.ingestion import intake, raw_tables  # noqa: F401

    shipped_context()
    return {}


def worker_ingest(args: dict) -> dict:
    """Reads every member's submission in one format with the intake's read_file (parse and validate)."""
    from benchmarks.kpi_warehouse import CYCLE
    from benchmarks.xlsx_parsing import timed
    from pmm_pipeline.defs.ingestion import validation_context
    from pmm_pipeline.stages.sample.formats import SampleContext
    from pmm_pipeline.stages.sample.generate import WRITERS

    reference, catalogue = shipped_context()
    ctx = validation_context(reference, catalogue, CYCLE)
    writer, sample_context = WRITERS[args["format"]], SampleContext(reference, catalogue)
    files = []
    for document in member_documents(reference, catalogue):
        suffix, data = writer(document, sample_context)
        files.append((f"{document['member']}_{CYCLE}{suffix}", data))
    started_cpu = time.process_time()
    seconds = [statistics.median(timed(name, data, ctx, args["rounds"])) for name, data in files]
    return {
        "files": len(files),
        "bytes_median": statistics.median(len(data) for _, data in files),
        "seconds": seconds,
        "cpu_mean_s": (time.process_time() - started_cpu) / (len(files) * args["rounds"]),
    }


def worker_validate(args: dict) -> dict:
    """The quality gate on the cycle's staged answers (5 % of members with a seeded defect), as validation.py."""
    from benchmarks.kpi_warehouse import CYCLE
    from benchmarks.validation import gate_inputs
    from pmm_pipeline.stages.quality.gate import evaluate_quality, write_gate_outcome
    from pmm_pipeline.stages.sample.defects import inject_quality_defects

    reference, catalogue = shipped_context()
    cycle = reference.cycles.get(CYCLE)
    documents = member_documents(reference, catalogue)
    seeded = inject_quality_defects(documents, reference, catalogue, CYCLE, 0.05, seed=1)
    inputs = gate_inputs(reference, catalogue, CYCLE, documents)
    started = time.perf_counter()
    import great_expectations  # noqa: F401 - paid once per process, i.e. once per Dagster run

    imported = time.perf_counter() - started
    work = Path(args["work"])
    runs, outcome = [], None
    for k in range(args["rounds"]):
        started, started_cpu = time.perf_counter(), time.process_time()
        outcome = evaluate_quality(inputs, cycle, catalogue, work / f"docs{k}", run_name=f"bench{k}")
        runs.append((time.perf_counter() - started, time.process_time() - started_cpu))
    started = time.perf_counter()
    with open_warehouse_as_pipeline(work / "gate.duckdb") as conn:
        write_gate_outcome(conn, CYCLE, outcome)
    return {
        "members": len(inputs.submissions),
        "answers": len(inputs.answers),
        "members_with_defect": len(seeded),
        "findings": len(outcome.findings),
        "blocked": len(outcome.blocked_members),
        "import_gx_s": imported,
        "seconds": [w for w, _ in runs],
        "cpu_seconds": [c for _, c in runs],
        "write_s": time.perf_counter() - started,
    }


def worker_seed(args: dict) -> dict:
    """A warehouse holding the KPI stage's inputs at a size: the cycle, 100 copies, or 10^7 answer rows."""
    from benchmarks.kpi_warehouse import CYCLE, scale_inputs, seed_inputs
    from benchmarks.validation import gate_inputs
    from pmm_pipeline.warehouse.tables import ADMITTED_ANSWERS

    reference, catalogue = shipped_context()
    answers = gate_inputs(reference, catalogue, CYCLE, member_documents(reference, catalogue)).answers
    started = time.perf_counter()
    with open_warehouse_as_pipeline(args["path"]) as conn:
        counts = seed_inputs(conn, reference, catalogue, answers)
        copies = {"cycle": 1, "100x": 100}.get(args["size"])
        if copies is None:  # 1e7: as many copies as make 10^7 admitted answers
            copies = math.ceil(TEN_MILLION / counts[ADMITTED_ANSWERS.qualified])
        if copies > 1:
            counts = scale_inputs(conn, copies)
    return {"copies": copies, "rows": counts, "seconds": time.perf_counter() - started}


def worker_stage(args: dict) -> dict:
    """One run of one way of computing kpi_values and rollups on a seeded warehouse."""
    from benchmarks.kpi_rollups import RUNNERS

    reference, catalogue = shipped_context()
    with open_warehouse_as_pipeline(args["path"], args["memory_limit_setting"]) as conn:
        started, started_cpu = time.perf_counter(), time.process_time()
        phases = RUNNERS[args["implementation"]](conn, reference, catalogue)
        return {
            "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - started_cpu,
            "phases": phases,
        }


def worker_check(args: dict) -> dict:
    """Rows where the hand-written DuckDB query or pandas disagrees with the pipeline (none expected)."""
    from benchmarks.kpi_rollups import compared_kpis, differences
    from benchmarks.kpi_warehouse import CYCLE, result_tables

    reference, catalogue = shipped_context()
    with open_warehouse_as_pipeline(args["path"]) as conn:
        rows = {}
        for table in result_tables("pipeline"):
            counted = conn.execute(f"SELECT count(*) FROM {table.qualified} WHERE cycle = ?", [CYCLE]).fetchall()
            rows[table.name] = counted[0][0]
        found = {
            impl: differences(conn, impl, compared_kpis(impl, catalogue, reference)) for impl in ("duckdb", "pandas")
        }
        return {"rows": rows, "differences": found}


def worker_disclosure(args: dict) -> dict:
    """The disclosure step alone on a cycle of `members` members (benchmarks/disclosure.py)."""
    from benchmarks.disclosure import measure

    return measure(args["members"], args["rounds"])


WORKERS = {
    "baseline": worker_baseline,
    "ingest": worker_ingest,
    "validate": worker_validate,
    "seed": worker_seed,
    "stage": worker_stage,
    "check": worker_check,
    "disclosure": worker_disclosure,
    **cycle_runs.WORKERS,
}


def serve(task: str, args: str) -> None:
    """Run one worker task on its JSON arguments and print its result as JSON (the line bench.py reads)."""
    result = WORKERS[task](json.loads(args))
    print(json.dumps(result))


@dataclass(frozen=True)
class Way:
    name: str
    implementation: str
    memory_limit_setting: bool = True  # False: DuckDB's default memory_limit instead of PMM_WAREHOUSE_MEMORY_LIMIT


WAYS = (Way("pipeline", "pipeline"), Way("duckdb", "duckdb"), Way("pandas", "pandas"))
# At 10^7 answer rows only: what the memory limit costs in time and saves in memory.
UNCAPPED = Way("pipeline, DuckDB's default memory_limit", "pipeline", memory_limit_setting=False)
