"""How long the quality gate takes for a cycle of 186 members and for an answer table 100 times larger.
Not a test: run it by hand.

    .venv/bin/python benchmarks/validation.py [--cycle 2025] [--scale 100] [--defect-share 0.05]

Every member in force answers (the sample's latest submission of each member, read by the real intake
checks), a share of them with one seeded quality defect. The 100x table repeats every member's answers under
100 member codes in the same regions. Times `evaluate_quality` (Great Expectations per-answer suites with Data
Docs, DuckDB cross rules, findings) and `write_gate_outcome` into a fresh DuckDB file.
"""

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.reading import read_submission
from pmm_pipeline.stages.quality.gate import GateInputs, empty_history, evaluate_quality, write_gate_outcome
from pmm_pipeline.stages.sample.defects import inject_quality_defects
from pmm_pipeline.stages.sample.documents import build_sample_documents, latest_documents, render_json
from pmm_pipeline.stages.staging.select import membership_frame
from pmm_pipeline.warehouse.connection import open_warehouse
from pmm_pipeline.warehouse.tables import STAGED_ANSWERS


def every_member_answering(reference, catalogue, cycle_id: str) -> list[dict]:
    """One latest sample submission per member in force (a sample seed makes about two thirds take part)."""
    wanted = set(reference.members_in_force(reference.cycles.get(cycle_id)))
    chosen: dict[str, dict] = {}
    seed = 0
    while wanted - set(chosen):
        documents = build_sample_documents(reference, catalogue, cycle_id, seed=seed)
        for member, document in latest_documents(documents).items():
            chosen.setdefault(member, document)
        seed += 1
    return [chosen[m] for m in sorted(chosen)]


def gate_inputs(reference, catalogue, cycle_id: str, documents: list[dict]) -> GateInputs:
    ctx = validation_context(reference, catalogue, cycle_id)
    regions = membership_frame(reference, reference.cycles.get(cycle_id)).set_index("member_code")["region_code"]
    answers, submissions = [], []
    for document in documents:
        member, data = document["member"], render_json(document)
        submission, problems = read_submission(f"{member}.json", data, ctx)
        assert submission is not None, problems
        sha = hashlib.sha256(data).hexdigest()
        submissions.append(
            {"member_code": member, "submission_id": sha, "file_name": f"{member}.json", "region_code": regions[member]}
        )
        answers += [
            {
                "cycle": cycle_id,
                "member_code": member,
                "item": a.item,
                "year": a.year,
                "value": a.value,
                "value_text": a.value_text,
                "status": a.status,
                "comment": a.comment,
                "submission_id": sha,
                "version": 1,
                "source_file": f"{member}.json",
                "source_pointer": a.location.pointer,
                "source_sheet": None,
                "source_cell": None,
                "source_line": None,
            }
            for a in submission.answers
        ]
    return GateInputs(
        pd.DataFrame(answers, columns=STAGED_ANSWERS.column_names).astype({"source_line": "Int64"}),
        pd.DataFrame(submissions),
        empty_history(),
    )


def scaled(inputs: GateInputs, factor: int) -> GateInputs:
    """The same answers under `factor` member codes per member (same regions): a table `factor` times larger."""

    def copies(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.concat(
            [frame.assign(member_code=frame.member_code + f"~{k:03d}") for k in range(factor)], ignore_index=True
        )

    return GateInputs(copies(inputs.answers), copies(inputs.submissions), inputs.history)


def run(label: str, inputs: GateInputs, cycle, catalogue, work: Path) -> None:
    # Wall time is what a run waits; CPU time of this process shows it apart from other load on the machine.
    start, cpu = time.perf_counter(), time.process_time()
    outcome = evaluate_quality(inputs, cycle, catalogue, work / label / "docs", run_name=label)
    evaluated, evaluated_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    with open_warehouse(work / label / "warehouse.duckdb") as conn:
        write_gate_outcome(conn, cycle.id, outcome)
    written = time.perf_counter() - start
    phases = ", ".join(f"{k} {v:.2f}" for k, v in outcome.seconds.items())
    print(
        f"{label}: {inputs.submissions.shape[0]:,} members, {len(inputs.answers):,} answers ->"
        f" {len(outcome.findings):,} findings, {len(outcome.blocked_members):,} blocked;"
        f" evaluate {evaluated:.2f} s wall, {evaluated_cpu:.2f} s CPU (wall by phase: {phases});"
        f" write {written:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycle", default="2025", help="2025 has 186 members in force")
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--defect-share", type=float, default=0.05)
    args = parser.parse_args()
    settings = Settings.from_env()
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    cycle = reference.cycles.get(args.cycle)
    documents = every_member_answering(reference, catalogue, cycle.id)
    seeded = inject_quality_defects(documents, reference, catalogue, cycle.id, args.defect_share, seed=1)
    inputs = gate_inputs(reference, catalogue, cycle.id, documents)
    print(f"cycle {cycle.id}: {len(seeded)} members with a seeded defect")

    start = time.perf_counter()
    import great_expectations  # noqa: F401 - timed apart: paid once per process (e.g. once per Dagster run)

    print(f"import great_expectations: {time.perf_counter() - start:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run("cycle, first in process", inputs, cycle, catalogue, work)
        run("cycle", inputs, cycle, catalogue, work)
        run(f"{args.scale}x answers", scaled(inputs, args.scale), cycle, catalogue, work)


if __name__ == "__main__":
    main()
