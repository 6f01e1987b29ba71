"""`make bench`, the cycle through `pmm run`: a first run, a re-run with nothing changed, one corrected file added.

Issue #17's scenarios. Every member in force answers (JSON, Excel and CSV in turn), in a new PMM_DATA_DIR and
DAGSTER_HOME; cycle 2025 is reopened in a copy of cycles.yaml (it closed before today), so that the corrected
file of scenario (c) is taken in rather than frozen out. Each `pmm run` is a fresh process: its wall and CPU
time and peak resident set size are the whole command's, the load average is read just before and after it,
and the Dagster instance's record of the run gives each step's time and the size of the event log.
"""

import copy
import datetime as dt
import os
import sys
from pathlib import Path

import yaml

from benchmarks.cells import fmt_mib, fmt_verdict, md_row

CYCLE = "2025"
FORMATS = ("json", "xlsx", "csv")
CORRECTED_MEMBER = "KEN"
GIB = 1024**3

# (key, what the issue calls it, target in seconds or bytes)
SCENARIOS = (
    ("first", "full cycle, new data folder and instance", 8.0),
    ("rerun", "the same cycle run again, no input changed", 3.0),
    ("corrected", f"one member's corrected file ({CORRECTED_MEMBER}) added, then run again", 5.0),
)
PEAK_TARGET_BYTES = GIB // 2


def worker_landing(args: dict) -> dict:
    """Every member's submission in landing/<cycle>/, the formats taken in turn (as `pmm sample` writes them),
    and a copy of cycles.yaml with the cycle reopened until a year from today."""
    from benchmarks.bench_workers import member_documents, shipped_context
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.stages.sample.formats import SampleContext
    from pmm_pipeline.stages.sample.generate import write_sample

    reference, catalogue = shipped_context()
    landing = Path(args["data_dir"]) / "landing" / CYCLE
    written = write_sample(
        landing, member_documents(reference, catalogue), (), FORMATS, SampleContext(reference, catalogue)
    )
    cycles = yaml.safe_load(Settings.from_env({}).cycles_file.read_text())
    reopened = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    next(c for c in cycles["cycles"] if c["id"] == CYCLE)["reopened_until"] = reopened
    Path(args["cycles_file"]).write_text(yaml.safe_dump(cycles, sort_keys=False))
    return {"files": len(written)}


def worker_corrected_file(args: dict) -> dict:
    """A second version of one member's submission: one reported value changed, sent a minute later."""
    from benchmarks.bench_workers import member_documents, shipped_context
    from pmm_pipeline.core.files import write_atomically
    from pmm_pipeline.stages.sample.documents import render_json

    reference, catalogue = shipped_context()
    document = copy.deepcopy(next(d for d in member_documents(reference, catalogue) if d["member"] == CORRECTED_MEMBER))
    sent = dt.datetime.fromisoformat(document["submitted_at"].replace("Z", "+00:00")) + dt.timedelta(minutes=1)
    document["submitted_at"] = sent.strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = next(a for a in document["answers"] if isinstance(a.get("value"), int) and a["value"] > 10)
    answer["value"] -= 1
    path = Path(args["data_dir"]) / "landing" / CYCLE / f"{CORRECTED_MEMBER}_{CYCLE}_v2.json"
    write_atomically(path, render_json(document))
    return {"file": path.name, "item": answer["item"], "year": answer["year"]}


def worker_run_record(args: dict) -> dict:
    """Each step's duration and the event log's size in the Dagster instance's record of the run."""
    import dagster as dg
    from dagster._serdes import serialize_value

    with dg.DagsterInstance.from_config(args["dagster_home"]) as instance:
        stats = instance.get_run_stats(args["run_id"])
        steps = instance.get_run_step_stats(args["run_id"])
        events = instance.all_logs(args["run_id"])
        return {
            "run_s": stats.end_time - stats.start_time,
            "steps": {s.step_key: s.end_time - s.start_time for s in sorted(steps, key=lambda s: s.start_time)},
            "events": len(events),
            "event_bytes": sum(len(serialize_value(e)) for e in events),
            "materializations": stats.materializations,
        }


WORKERS = {"landing": worker_landing, "corrected_file": worker_corrected_file, "run_record": worker_run_record}


def measure_cycle_runs(work: Path, spawn, run_worker, log) -> dict:
    """The three scenarios in order on one data folder and instance; `spawn`, `run_worker`, `log` are bench.py's."""
    data_dir, dagster_home, cycles_file = work / "cycle" / "data", work / "cycle" / "dagster_home", work / "cycles.yaml"
    landing = run_worker("landing", data_dir=str(data_dir), cycles_file=str(cycles_file)).result
    env = {
        **os.environ,
        "PMM_DATA_DIR": str(data_dir),
        "PMM_CYCLES_FILE": str(cycles_file),
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    runs = {}
    for key, label, _ in SCENARIOS:
        corrected = run_worker("corrected_file", data_dir=str(data_dir)).result if key == "corrected" else None
        load_before = os.getloadavg()[0]
        stdout, measured = spawn([str(Path(sys.executable).parent / "pmm"), "run", "--cycle", CYCLE], env)
        load_after = os.getloadavg()[0]
        if "succeeded" not in stdout.splitlines()[0]:
            raise RuntimeError(f"pmm run ({label}) did not succeed:\n{stdout[-4000:]}")
        run_id = stdout.split(" run ", 1)[1].split()[0]
        record = run_worker("run_record", dagster_home=str(dagster_home), run_id=run_id).result
        runs[key] = {
            "label": label,
            "wall_s": measured.wall_s,
            "cpu_s": measured.cpu_s,
            "peak_bytes": measured.peak_bytes,
            "load_before": load_before,
            "load_after": load_after,
            "summary": stdout.strip().splitlines()[1:9],
            "corrected": corrected,
            **record,
        }
        log(
            f"cycle ({label}): {measured.wall_s:.1f} s wall, {measured.cpu_s:.1f} s CPU,"
            f" peak {measured.peak_bytes / 2**20:.0f} MiB, {record['events']} events, {record['event_bytes']:,} bytes"
        )
    return {"files": landing["files"], "runs": runs}


def target_rows(cycle_runs: dict) -> list[str]:
    """The issue's rows of the Targets table."""
    runs = cycle_runs["runs"]
    rows = []
    for key, label, target in SCENARIOS:
        run = runs[key]
        measured = f"{run['wall_s']:.1f} s ({run['cpu_s']:.1f} s CPU, load {run['load_before']:.1f})"
        rows.append(
            md_row(f"{label}, `pmm run` wall", measured, f"≤ {target:g} s", fmt_verdict(run["wall_s"] <= target))
        )
    peak = runs["first"]["peak_bytes"]
    rows.append(
        md_row("peak memory of the full cycle", fmt_mib(peak), "≤ 0.5 GiB", fmt_verdict(peak <= PEAK_TARGET_BYTES))
    )
    return rows


def render_section(cycle_runs: dict) -> list[str]:
    runs = cycle_runs["runs"]
    lines = [
        "",
        "## Full cycle through `pmm run`",
        "",
        f"Cycle {CYCLE}, {cycle_runs['files']} files in landing/ (every member in force, formats JSON, Excel and CSV"
        " in turn), a new PMM_DATA_DIR and DAGSTER_HOME in a temporary folder, the cycle reopened in a copy of"
        " cycles.yaml; then the same command again; then one member's corrected file added and the command again"
        " (benchmarks/cycle_runs.py). Each run is a fresh process; the load average (1 min) is read just before"
        " and after it.",
        "",
        "| run | wall | CPU | peak memory | load before / after | Dagster run (first event to last) | events"
        " | event log |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs.values():
        wall, cpu, dagster_run = (f"{run[k]:.1f} s" for k in ("wall_s", "cpu_s", "run_s"))
        loads = f"{run['load_before']:.1f} / {run['load_after']:.1f}"
        size = f"{run['event_bytes'] / 1024:,.0f} KiB"
        lines.append(
            md_row(run["label"], wall, cpu, fmt_mib(run["peak_bytes"]), loads, dagster_run, run["events"], size)
        )
    steps = [run["steps"] for run in runs.values()]
    keys = list(dict.fromkeys(k for s in steps for k in s))
    lines += ["", md_row("step", *(run["label"] for run in runs.values())), "|---|" + "---|" * len(steps)]
    for key in keys:
        lines.append(md_row(key, *(f"{s[key]:.2f} s" if key in s else "" for s in steps)))
    lines += ["", "`pmm run` printed (first run):", "", "```", *runs["first"]["summary"], "```"]
    return lines
