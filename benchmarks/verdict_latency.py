"""How long the member platform's verdict takes (`deliver_upload`, target: p95 under 1 s for a questionnaire on 2
cores). Not a test: run it by hand.

    .venv/bin/python benchmarks/verdict_latency.py [--uploads 60] [--members 60]

Uploads `pmm sample`'s submissions of cycle 2027 as filled Excel questionnaires, JSON and CSV, each a new version
of its member, into a temporary data folder, and prints the median and p95 of each format; the first call (which
imports Great Expectations and loads the catalogue) is timed apart, as a process serving the platform pays it once
(`warm_up` at start-up). Wall times depend on what else the machine runs; CPU times are printed beside them.

Seen on the shared 2-core machine (load average 6-9, 2026-12-02): ~2 s wall per questionnaire, nearly all of it in
Great Expectations' validation of the file's answers (per run, whatever the data: its metric graph and pydantic
serialisation of each expectation's configuration); building the suites each time cost another ~0.3 s and is now
done once per plan (stages/quality/expectations.py).

Since the per-answer expectations of one file are judged in pandas (stages/quality/fast.py, proven equal to
Great Expectations) and the peer rule (no peers in one file) is not run for it, 2026-12-02, 50 uploads per
format, 3 runs: xlsx median 282-330 ms wall / 271-323 ms CPU, p95 357-423 ms wall / 330-365 ms CPU at load
average 2.5-4.2 (before, load ~5: median ~1.7 s wall / 0.64 s CPU, p95 ~2.3 s / 0.85 s CPU). What is left: the
in-memory staging of the file's rows in DuckDB, the other cross rules' private DuckDB, reading the file.
"""

import argparse
import datetime as dt
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.delivery import deliver_upload
from pmm_pipeline.stages.sample.documents import build_sample_documents, render_json
from pmm_pipeline.stages.sample.formats import SampleContext, csv_writer, xlsx_writer

CYCLE = "2027"
RECEIVED = dt.datetime(2026, 12, 10, 9, 0, tzinfo=dt.UTC)  # inside the 2027 collection window


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=60, help="uploads per format (at least 50 for a p95)")
    parser.add_argument("--members", type=int, default=150)
    args = parser.parse_args()
    base = Settings.from_env()
    reference = load_reference(base.reference_dir, base.cycles_file)
    catalogue = load_catalogue(base.specs_dir)
    context = SampleContext(reference, catalogue)
    documents = build_sample_documents(reference, catalogue, CYCLE, members=args.members, seed=1)
    writers = {"xlsx": xlsx_writer, "json": lambda d, _c: (".json", render_json(d)), "csv": csv_writer}
    files = {fmt: [(d["member"], *w(d, context)) for d in documents] for fmt, w in writers.items()}
    with tempfile.TemporaryDirectory() as folder:
        settings = replace(base, data_dir=Path(folder))
        start = time.perf_counter()
        member, suffix, data = files["json"][0]
        deliver_upload(settings, CYCLE, f"warm{suffix}", data, account="bench", member=member, received_at=RECEIVED)
        print(f"first call (imports, catalogue): {time.perf_counter() - start:.2f} s")
        n = 0
        for fmt, uploads in files.items():
            times, cpu, statuses = [], [], {}
            for i in range(args.uploads):
                member, suffix, data = uploads[i % len(uploads)]
                # A new version each time: the same bytes twice would be a duplicate (not read again).
                data = data + b"\n" * (i // len(uploads) + 1) if fmt != "xlsx" else data
                n += 1
                at = RECEIVED + dt.timedelta(seconds=n)
                start, start_cpu = time.perf_counter(), time.process_time()
                verdict = deliver_upload(
                    settings, CYCLE, f"{member}_{i}{suffix}", data, account="bench", member=member, received_at=at
                )
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
                statuses[verdict.reason_code or verdict.status] = (
                    statuses.get(verdict.reason_code or verdict.status, 0) + 1
                )
            print(
                f"{fmt}: {len(times)} uploads, median {statistics.median(times) * 1000:.0f} ms,"
                f" p95 {percentile(times, 0.95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms (CPU median"
                f" {statistics.median(cpu) * 1000:.0f} ms, p95 {percentile(cpu, 0.95) * 1000:.0f} ms: what an idle"
                f" machine would show); verdicts {statuses}"
            )


if __name__ == "__main__":
    main()
