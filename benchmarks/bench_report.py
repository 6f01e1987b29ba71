"""BENCHMARKS.md from the figures of one run of `make bench` (benchmarks/bench.py): the targets, a section per
stage, and the hand-written notes below NOTES_MARKER kept when the file is rewritten.
"""

from pathlib import Path

from benchmarks import cycle_runs
from benchmarks.bench_workers import UNCAPPED
from benchmarks.cells import fmt_mib, fmt_s, fmt_verdict, md_row

NOTES_MARKER = "<!-- Written by hand below this line: `make bench` rewrites everything above it and keeps the rest. -->"
GIB = 1024**3

TARGETS = {
    "stage_vs_duckdb": 1.5,  # pipeline time / hand-written DuckDB time, at most
    "pandas_vs_stage": 5.0,  # pandas time / pipeline time at 10^7 answer rows, at least
    "xlsx_per_file_s": 0.2,
    "peak_bytes_1e7": 2 * GIB,
}


def size_label(stage: dict) -> str:
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
        md_row("CPU", f"{m['cpu']}, {m['nproc']} cores (nproc)"),
        md_row("memory", m["memory"]),
        md_row("system", f"{m['os']}, Python {m['python']}"),
        md_row("libraries", f"duckdb {m['duckdb']}, dagster {m['dagster']}, pandas {m['pandas']}"),
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
            md_row(
                f"KPI + rollup stage / hand-written DuckDB, {size_label(s)}",
                f"{ratio:.2f}× wall ({cpu_ratio:.2f}× CPU)",
                f"≤ {limit}×",
                fmt_verdict(ratio <= limit),
            )
        )
    if "1e7" in stage:
        big = stage["1e7"]
        impl = big["implementations"]
        ratio = impl["pandas"]["median_s"] / impl["pipeline"]["median_s"]
        least = TARGETS["pandas_vs_stage"]
        lines.append(
            md_row(
                f"pandas / pipeline stage, {size_label(big)}",
                f"{ratio:.1f}×",
                f"≥ {least}×",
                fmt_verdict(ratio >= least),
            )
        )
        peak, limit = impl["pipeline"]["peak_bytes"], TARGETS["peak_bytes_1e7"]
        lines.append(
            md_row(
                f"peak memory of the pipeline stage, {size_label(big)}",
                fmt_mib(peak),
                "< 2 GiB",
                fmt_verdict(peak < limit),
            )
        )
        if UNCAPPED.name in impl:
            uncapped = impl[UNCAPPED.name]
            lines.append(
                md_row(
                    "the same without PMM_WAREHOUSE_MEMORY_LIMIT (DuckDB's default: 80 % of the memory)",
                    f"{fmt_mib(uncapped['peak_bytes'])}, {uncapped['median_s'] / impl['pipeline']['median_s']:.2f}×"
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
            md_row(
                "Excel questionnaire read, p95 per file",
                f"{fmt_s(xlsx['p95_s'])} (median {fmt_s(xlsx['median_s'])})",
                f"< {limit} s",
                fmt_verdict(xlsx["p95_s"] < limit),
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
            times = (fmt_s(i[k]) for k in ("median_s", "p95_s", "max_s", "cpu_mean_s"))
            lines.append(md_row(fmt, i["files"], size, *times, fmt_mib(i["peak_bytes"])))
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
            md_row("import great_expectations (once per run)", fmt_s(v["import_gx_s"]), ""),
            md_row(f"evaluate, median of {len(v['seconds'])}", fmt_s(v["median_s"]), fmt_s(v["cpu_median_s"])),
            md_row("write findings, summary, admitted answers", fmt_s(v["write_s"]), ""),
            md_row("peak memory of the worker", fmt_mib(v["peak_bytes"]), ""),
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
                size_label(s),
                f"{s['input_rows']['quality.admitted_answers']:,}",
                f"{s['output_rows']['kpi_values']:,}",
                f"{s['output_rows']['rollups']:,}",
            )
            for name, i in impl.items():
                phases = ", ".join(f"{p} {fmt_s(t)}" for p, t in i["phases"].items())
                wall = fmt_s(i["median_s"]) + (f" ({phases})" if phases else "")
                relative = f"{i['median_s'] / impl['pipeline']['median_s']:.2f}×"
                lines.append(
                    md_row(
                        *sizes,
                        name,
                        len(i["all_s"]),
                        wall,
                        fmt_s(i["cpu_median_s"]),
                        fmt_mib(i["peak_bytes"]),
                        relative,
                    )
                )
        lines += [
            "",
            "Each run is a fresh worker process; the ways take turns in rotated order round by round. Every worker"
            " first imports pandas, DuckDB and the pipeline's modules:"
            f" {fmt_mib(r['baseline_peak_bytes'])} of each peak is that floor.",
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
