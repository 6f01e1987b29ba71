"""`make bench`: speed and memory of every stage, measured against the plain alternatives, written to BENCHMARKS.md.

    .venv/bin/python -m benchmarks.bench [--rounds 3] [--sizes cycle,100x,1e7] [--output BENCHMARKS.md]
    .venv/bin/python -m benchmarks.bench --quick   # the cycle through `pmm run` only (benchmarks/cycle_runs.py)

Everything runs on generated, deterministic inputs (the sample submissions of every member in force in cycle
2025). Each measurement runs in a fresh worker process (`python -m benchmarks.bench worker TASK ARGS`), so a
peak resident set size (ru_maxrss from os.wait4) belongs to that measurement alone, DuckDB's native memory
included. The KPI and rollup stage is measured in rounds, the three ways in a rotated order within a round, so
that load from other processes on a shared machine falls on all of them alike; the figure is the median over
rounds. CPU time (all threads of the worker) is reported beside wall time: on a loaded machine it is the
steadier figure. The three ways must give exactly the same tables, or the run fails.

The output file is rewritten above the line NOTES_MARKER; the hand-written notes below it are kept. Every
figure of every round goes to the same name with .json (BENCHMARKS.json).
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import cycle_runs
from benchmarks.cells import _mib, _row, _s, _verdict

ROOT = Path(__file__).resolve().parent.parent
NOTES_MARKER = "<!-- Written by hand below this line: `make bench` rewrites everything above it and keeps the rest. -->"
TEN_MILLION = 10_000_000
SIZES = ("cycle", "100x", "1e7")
FORMATS = ("json", "xlsx", "csv")
GIB = 1024**3

TARGETS = {
    "stage_vs_duckdb": 1.5,  # pipeline time / hand-written DuckDB time, at most
    "pandas_vs_stage": 5.0,  # pandas time / pipeline time at 10^7 answer rows, at least
    "xlsx_per_file_s": 0.2,
    "peak_bytes_1e7": 2 * GIB,
}


# ---------------------------------------------------------------------------------------------- workers


def _context():
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.specs.catalogue.load import load_catalogue
    from pmm_pipeline.specs.reference.load import load_reference

    settings = Settings.from_env({})  # the shipped catalogue and reference data, whatever the environment says
    return load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir)


def _open_warehouse(path, memory_limit_setting: bool = True):
    """The warehouse connection as the pipeline opens it: DuckDB's memory_limit from PMM_WAREHOUSE_MEMORY_LIMIT.

    `memory_limit_setting=False`: DuckDB's own default (80 % of the machine's memory), for comparison.
    """
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.warehouse.connection import open_warehouse

    limit = Settings.from_env().warehouse_memory_limit if memory_limit_setting else None
    return open_warehouse(path, memory_limit=limit)


def _documents(reference, catalogue):
    from benchmarks.kpi_warehouse import CYCLE
    from benchmarks.validation import every_member_answering

    return every_member_answering(reference, catalogue, CYCLE)


def worker_baseline(_args: dict) -> dict:
    """Imports what every worker imports and stops: the floor under every peak memory figure."""
    import benchmarks.kpi_rollups  # noqa: F401

    # The intake loop and the raw tables it feeds: what intake.py alone imported before they were split.
    from pmm_pipeline.stages.ingestion import intake, raw_tables  # noqa: F401

    _context()
    return {}


def worker_ingest(args: dict) -> dict:
    """Reads every member's submission in one format with the intake's read_file (parse and validate)."""
    from benchmarks.kpi_warehouse import CYCLE
    from benchmarks.xlsx_parsing import timed
    from pmm_pipeline.defs.ingestion import validation_context
    from pmm_pipeline.stages.sample.formats import SampleContext
    from pmm_pipeline.stages.sample.generate import WRITERS

    reference, catalogue = _context()
    ctx = validation_context(reference, catalogue, CYCLE)
    writer, sample_context = WRITERS[args["format"]], SampleContext(reference, catalogue)
    files = []
    for document in _documents(reference, catalogue):
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

    reference, catalogue = _context()
    cycle = reference.cycles.get(CYCLE)
    documents = _documents(reference, catalogue)
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
    with _open_warehouse(work / "gate.duckdb") as conn:
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

    reference, catalogue = _context()
    answers = gate_inputs(reference, catalogue, CYCLE, _documents(reference, catalogue)).answers
    started = time.perf_counter()
    with _open_warehouse(args["path"]) as conn:
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

    reference, catalogue = _context()
    with _open_warehouse(args["path"], args["memory_limit_setting"]) as conn:
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

    reference, catalogue = _context()
    with _open_warehouse(args["path"]) as conn:
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


# ---------------------------------------------------------------------------------------------- driver


@dataclass
class Measured:
    result: dict
    wall_s: float
    cpu_s: float  # user + system of the whole process
    peak_bytes: int


def _spawn(argv: list[str], env: dict[str, str] | None = None) -> tuple[str, Measured]:
    """Run a process to its end; its stdout, wall time, CPU time and peak resident set size."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({process.returncode}):\n{stderr[-4000:]}")
    # ru_maxrss is in KiB on Linux
    return stdout, Measured({}, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def run_worker(task: str, **args) -> Measured:
    stdout, measured = _spawn([sys.executable, "-m", "benchmarks.bench", "worker", task, json.dumps(args)])
    measured.result = json.loads(stdout.strip().splitlines()[-1])
    return measured


LOADS: list[float] = []  # the 1-minute load average at every progress line


def _log(message: str) -> None:
    LOADS.append(os.getloadavg()[0])
    print(f"[{dt.datetime.now():%H:%M:%S} load {LOADS[-1]:.1f}] {message}", flush=True)


def measure_ingestion(rounds: int) -> dict:
    results = {}
    for fmt in FORMATS:
        measured = run_worker("ingest", format=fmt, rounds=rounds)
        seconds = sorted(measured.result["seconds"])
        results[fmt] = {
            "files": measured.result["files"],
            "bytes_median": measured.result["bytes_median"],
            "median_s": statistics.median(seconds),
            "p95_s": _percentile(seconds, 95),
            "max_s": seconds[-1],
            "cpu_mean_s": measured.result["cpu_mean_s"],
            "peak_bytes": measured.peak_bytes,
        }
        _log(f"ingestion {fmt}: median {_s(results[fmt]['median_s'])}, p95 {_s(results[fmt]['p95_s'])}")
    return results


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


def measure_validation(rounds: int, work: Path) -> dict:
    measured = run_worker("validate", rounds=rounds, work=str(work / "validation"))
    r = measured.result
    _log(f"validation: {statistics.median(r['seconds']):.2f} s per cycle")
    return {
        **r,
        "median_s": statistics.median(r["seconds"]),
        "cpu_median_s": statistics.median(r["cpu_seconds"]),
        "peak_bytes": measured.peak_bytes,
    }


@dataclass(frozen=True)
class Way:
    name: str
    implementation: str
    memory_limit_setting: bool = True  # False: DuckDB's default memory_limit instead of PMM_WAREHOUSE_MEMORY_LIMIT


WAYS = (Way("pipeline", "pipeline"), Way("duckdb", "duckdb"), Way("pandas", "pandas"))
# At 10^7 answer rows only: what the memory limit costs in time and saves in memory.
UNCAPPED = Way("pipeline, DuckDB's default memory_limit", "pipeline", memory_limit_setting=False)


def measure_stage(size: str, rounds: int, work: Path) -> dict:
    """The ways in rounds, each run in a fresh worker, rotating the order from round to round.

    At 10^7 answer rows pandas runs in the first round only: it takes minutes and its ratio is far from its target.
    """
    path = work / f"stage_{size}.duckdb"
    seeded = run_worker("seed", size=size, path=str(path))
    _log(f"{size}: seeded {seeded.result['rows']} in {seeded.result['seconds']:.1f} s")
    ways = WAYS + ((UNCAPPED,) if size == "1e7" else ())
    runs: dict[str, list[Measured]] = {way.name: [] for way in ways}
    for k in range(rounds):
        for way in ways[k % len(ways) :] + ways[: k % len(ways)]:
            if size == "1e7" and way.implementation == "pandas" and runs[way.name]:
                continue
            measured = run_worker(
                "stage",
                implementation=way.implementation,
                memory_limit_setting=way.memory_limit_setting,
                path=str(path),
            )
            runs[way.name].append(measured)
            _log(
                f"{size} round {k + 1}: {way.name} {measured.result['seconds']:.2f} s,"
                f" peak {measured.peak_bytes / 2**20:.0f} MiB"
            )
    check = run_worker("check", path=str(path)).result
    disagreeing = {impl: d for impl, d in check["differences"].items() if d}
    if disagreeing:
        raise AssertionError(f"{size}: results differ from the pipeline's: {json.dumps(disagreeing)[:4000]}")
    by_way = {
        name: {
            "median_s": statistics.median(m.result["seconds"] for m in measured),
            "cpu_median_s": statistics.median(m.result["cpu_seconds"] for m in measured),
            "all_s": [m.result["seconds"] for m in measured],
            "peak_bytes": max(m.peak_bytes for m in measured),
            "phases": {
                p: statistics.median(m.result["phases"][p] for m in measured) for p in measured[0].result["phases"]
            },
        }
        for name, measured in runs.items()
    }
    for leftover in (path, path.with_name(path.name + ".lock"), path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)  # the 10^7 warehouse takes a few hundred MiB
    return {
        "copies": seeded.result["copies"],
        "input_rows": seeded.result["rows"],
        "output_rows": check["rows"],
        "rounds": rounds,
        "implementations": by_way,
    }


def measure_disclosure(rounds: int) -> dict:
    from benchmarks.disclosure import SIZES

    results = {}
    for members in SIZES:
        measured = run_worker("disclosure", members=members, rounds=max(rounds, 5))
        results[str(members)] = {**measured.result, "peak_bytes": measured.peak_bytes}
        _log(f"disclosure, {members} members: median {_s(measured.result['median_s'])}")
    return results


# ---------------------------------------------------------------------------------------------- report


def machine() -> dict:
    import dagster
    import duckdb
    import pandas

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": f"{memory_kib / 2**20:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dagster": dagster.__version__,
        "pandas": pandas.__version__,
    }


def _size_label(stage: dict) -> str:
    copies, rows = stage["copies"], stage["input_rows"]["quality.admitted_answers"]
    if copies == 1:
        return "cycle (186 members)"
    return f"{copies:,}× ({rows / 1e6:.1f}M answers)" if rows >= 1e6 else f"{copies}× ({rows / 1e3:.0f}k answers)"


def render_report(r: dict) -> str:
    m = r["machine"]
    # The load average counts this benchmark's own processes too (up to 2 while DuckDB uses both cores).
    shared = r["load_before"] > 1 or max(r["loads"]) > m["nproc"] + 0.5
    lines = [
        "# Benchmarks",
        "",
        f"Figures of one run of `{r['command']}` on {r['date']}, {r['duration_s'] / 60:.1f} min in all.",
        f"Load average (1 min): {r['load_before']:.1f} when the run started, between {min(r['loads']):.1f} and"
        f" {max(r['loads']):.1f} during it, on {m['nproc']} cores; it includes the benchmark's own processes."
        + (" **Other work was running on the machine: wall times are inflated, CPU times less so.**" if shared else ""),
        "",
        "| machine | |",
        "|---|---|",
        _row("CPU", f"{m['cpu']}, {m['nproc']} cores (nproc)"),
        _row("memory", m["memory"]),
        _row("system", f"{m['os']}, Python {m['python']}"),
        _row("libraries", f"duckdb {m['duckdb']}, dagster {m['dagster']}, pandas {m['pandas']}"),
        "",
        "## Targets",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
    ]
    stage = r.get("stage", {})
    for s in stage.values():
        impl = s["implementations"]
        ratio = impl["pipeline"]["median_s"] / impl["duckdb"]["median_s"]
        cpu_ratio = impl["pipeline"]["cpu_median_s"] / impl["duckdb"]["cpu_median_s"]
        limit = TARGETS["stage_vs_duckdb"]
        lines.append(
            _row(
                f"KPI + rollup stage / hand-written DuckDB, {_size_label(s)}",
                f"{ratio:.2f}× wall ({cpu_ratio:.2f}× CPU)",
                f"≤ {limit}×",
                _verdict(ratio <= limit),
            )
        )
    if "1e7" in stage:
        big = stage["1e7"]
        impl = big["implementations"]
        ratio = impl["pandas"]["median_s"] / impl["pipeline"]["median_s"]
        least = TARGETS["pandas_vs_stage"]
        lines.append(
            _row(
                f"pandas / pipeline stage, {_size_label(big)}", f"{ratio:.1f}×", f"≥ {least}×", _verdict(ratio >= least)
            )
        )
        peak, limit = impl["pipeline"]["peak_bytes"], TARGETS["peak_bytes_1e7"]
        lines.append(
            _row(
                f"peak memory of the pipeline stage, {_size_label(big)}", _mib(peak), "< 2 GiB", _verdict(peak < limit)
            )
        )
        if UNCAPPED.name in impl:
            uncapped = impl[UNCAPPED.name]
            lines.append(
                _row(
                    "the same without PMM_WAREHOUSE_MEMORY_LIMIT (DuckDB's default: 80 % of the memory)",
                    f"{_mib(uncapped['peak_bytes'])}, {uncapped['median_s'] / impl['pipeline']['median_s']:.2f}×"
                    " the time",
                    "",
                    "",
                )
            )
    if "full_cycle" in r:
        lines += cycle_runs.target_rows(r["full_cycle"])
    if "disclosure" in r:
        from benchmarks.disclosure import target_row

        lines.append(target_row(r["disclosure"]))
    if "ingestion" in r:
        xlsx, limit = r["ingestion"]["xlsx"], TARGETS["xlsx_per_file_s"]
        lines.append(
            _row(
                "Excel questionnaire read, p95 per file",
                f"{_s(xlsx['p95_s'])} (median {_s(xlsx['median_s'])})",
                f"< {limit} s",
                _verdict(xlsx["p95_s"] < limit),
            )
        )
    lines += ["", "Ratios are of medians over rounds of wall time; the CPU ratio counts every thread of the worker."]

    if "ingestion" in r:
        lines += [
            "",
            "## Ingestion, per file",
            "",
            "`read_file` (container checks, parsing, validation against the catalogue) of each of the 186 members'"
            f" submissions, read {r['rounds']} times in a row (`timed` of benchmarks/xlsx_parsing.py; a file's figure"
            " is the median of its times); one worker process per format.",
            "",
            "| format | files | median size | median | p95 | max | CPU per read (mean) | peak memory of the worker |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for fmt, i in r["ingestion"].items():
            size = f"{i['bytes_median'] / 1024:.0f} KiB"
            times = (_s(i[k]) for k in ("median_s", "p95_s", "max_s", "cpu_mean_s"))
            lines.append(_row(fmt, i["files"], size, *times, _mib(i["peak_bytes"])))
    if "validation" in r:
        v = r["validation"]
        lines += [
            "",
            "## Validation, per cycle",
            "",
            "The quality gate's `evaluate_quality` (Great Expectations suites with Data Docs, DuckDB cross rules,"
            f" findings) on {v['members']} members and {v['answers']:,} staged answers, {v['members_with_defect']}"
            f" members with a seeded defect: {v['findings']} findings, {v['blocked']} members blocked.",
            "",
            "| | wall | CPU |",
            "|---|---|---|",
            _row("import great_expectations (once per run)", _s(v["import_gx_s"]), ""),
            _row(f"evaluate, median of {len(v['seconds'])}", _s(v["median_s"]), _s(v["cpu_median_s"])),
            _row("write findings, summary, admitted answers", _s(v["write_s"]), ""),
            _row("peak memory of the worker", _mib(v["peak_bytes"]), ""),
        ]
    if stage:
        lines += [
            "",
            "## KPI and rollup stage: pipeline, hand-written DuckDB, pandas",
            "",
            "Each way reads the KPI stage's inputs from the warehouse and replaces the cycle's rows of its own"
            " kpi_values and rollups tables through the same warehouse/writes.py helpers: *pipeline* runs"
            " `render_kpi_values_sql` and `render_rollups_sql` as the compute_kpis and rollups assets do; *duckdb* is"
            " one hand-written query per table (benchmarks/kpi_rollups.py; compared on the KPIs whose formulas have"
            " one of its four forms); *pandas* reads the inputs into pandas, evaluates every parsed formula there and"
            " writes back. Neither keeps a copy of the KPIs: both read the catalogue. All three gave exactly the same"
            " rows (EXCEPT ALL both ways, every"
            " column, floats bit for bit) at every size. Every way opens the warehouse as the pipeline does, with"
            f" DuckDB's memory_limit from PMM_WAREHOUSE_MEMORY_LIMIT ({r['warehouse_memory_limit']}).",
            "",
            "| size | answer rows | KPI values | rollup rows | way | runs | wall (median) | CPU (median) | peak memory"
            " | wall / pipeline |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in stage.values():
            impl = s["implementations"]
            sizes = (
                _size_label(s),
                f"{s['input_rows']['quality.admitted_answers']:,}",
                f"{s['output_rows']['kpi_values']:,}",
                f"{s['output_rows']['rollups']:,}",
            )
            for name, i in impl.items():
                phases = ", ".join(f"{p} {_s(t)}" for p, t in i["phases"].items())
                wall = _s(i["median_s"]) + (f" ({phases})" if phases else "")
                relative = f"{i['median_s'] / impl['pipeline']['median_s']:.2f}×"
                lines.append(
                    _row(*sizes, name, len(i["all_s"]), wall, _s(i["cpu_median_s"]), _mib(i["peak_bytes"]), relative)
                )
        lines += [
            "",
            "Each run is a fresh worker process; the ways take turns in rotated order round by round. Every worker"
            f" first imports pandas, DuckDB and the pipeline's modules: {_mib(r['baseline_peak_bytes'])} of each peak"
            " is that floor.",
        ]
    if "disclosure" in r:
        from benchmarks.disclosure import report_lines

        lines += report_lines(r["disclosure"])
    if "full_cycle" in r:
        lines += cycle_runs.render_section(r["full_cycle"])
    return "\n".join(lines) + "\n"


def write_report(output: Path, report: str) -> None:
    notes = ""
    if output.exists() and NOTES_MARKER in output.read_text():
        notes = output.read_text().split(NOTES_MARKER, 1)[1]
    output.write_text(report + "\n" + NOTES_MARKER + (notes or "\n"))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        result = WORKERS[sys.argv[2]](json.loads(sys.argv[3]))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each KPI/rollup measurement (and of reads)")
    parser.add_argument("--rounds-1e7", type=int, default=2, help="rounds at 10^7 answer rows (pandas: one)")
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"KPI/rollup sizes among {','.join(SIZES)}")
    parts = "ingestion,validation,stage,disclosure,full_cycle"
    parser.add_argument("--skip", default="", help=f"parts to leave out: {parts}")
    parser.add_argument("--output", type=Path, default=None, help="default BENCHMARKS.md (none with --quick)")
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("PMM_BENCH_QUICK") == "1",
        help="the cycle through `pmm run` only, printed (or written to --output); also PMM_BENCH_QUICK=1",
    )
    args = parser.parse_args()
    if args.quick:
        args.skip = "ingestion,validation,stage,disclosure"
    elif args.output is None:
        args.output = ROOT / "BENCHMARKS.md"
    from pmm_pipeline.core.settings import Settings

    skip = set(filter(None, args.skip.split(",")))
    started = time.perf_counter()
    _log("start")
    results: dict = {
        "command": "make bench"
        if os.environ.get("MAKELEVEL")
        else shlex.join(["python", "-m", "benchmarks.bench", *sys.argv[1:]]),
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "rounds": args.rounds,
        "load_before": LOADS[0],
        "warehouse_memory_limit": Settings.from_env().warehouse_memory_limit,
    }
    results["baseline_peak_bytes"] = run_worker("baseline").peak_bytes
    with tempfile.TemporaryDirectory(prefix="pmm-bench-") as tmp:
        work = Path(tmp)
        if "ingestion" not in skip:
            results["ingestion"] = measure_ingestion(args.rounds)
        if "validation" not in skip:
            results["validation"] = measure_validation(args.rounds, work)
        if "stage" not in skip:
            results["stage"] = {}
            for size in filter(None, args.sizes.split(",")):
                rounds = args.rounds_1e7 if size == "1e7" else args.rounds
                results["stage"][size] = measure_stage(size, rounds, work)
        if "disclosure" not in skip:
            results["disclosure"] = measure_disclosure(args.rounds)
        if "full_cycle" not in skip:
            results["full_cycle"] = cycle_runs.measure_cycle_runs(work, _spawn, run_worker, _log)
    _log("done")
    results.update(duration_s=time.perf_counter() - started, load_after=LOADS[-1], loads=LOADS)
    report = render_report(results)
    if args.output is not None:
        write_report(args.output, report)
        args.output.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")  # every round's figures
    print(report)


if __name__ == "__main__":
    main()
