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

Here: the measurements (each a worker process started and timed) and main(). The workers themselves are in
benchmarks/bench_workers.py, the rendering of BENCHMARKS.md (and NOTES_MARKER) in benchmarks/bench_report.py.
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
from benchmarks.bench_report import render_report, write_report
from benchmarks.bench_workers import UNCAPPED, WAYS, serve
from benchmarks.cells import fmt_s

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("cycle", "100x", "1e7")
FORMATS = ("json", "xlsx", "csv")


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
        _log(f"ingestion {fmt}: median {fmt_s(results[fmt]['median_s'])}, p95 {fmt_s(results[fmt]['p95_s'])}")
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
        _log(f"disclosure, {members} members: median {fmt_s(measured.result['median_s'])}")
    return results


# ---------------------------------------------------------------------------------------------- the machine


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


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        serve(sys.argv[2], sys.argv[3])
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
