"""How long reading one filled Excel questionnaire takes (target: under 0.2 s). Not a test: run it by hand.

    .venv/bin/python benchmarks/xlsx_parsing.py [--repeat N]

Writes a questionnaire per language with `pmm sample`'s answers, then times `read_file` (container
checks, openpyxl read-only parse, validation) and, for comparison, the same content as JSON and CSV.
"""

import argparse
import statistics
import time

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.sample.documents import build_sample_documents, render_json
from pmm_pipeline.stages.sample.formats import SampleContext, csv_writer, xlsx_writer


def timed(name: str, data: bytes, ctx, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        outcome = read_file(name, data, ctx)
        times.append(time.perf_counter() - start)
        assert outcome.submission is not None, outcome.problems
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    settings = Settings.from_env()
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    ctx = validation_context(reference, catalogue, "2023")
    context = SampleContext(reference, catalogue)
    documents = build_sample_documents(reference, catalogue, "2023", members=30, seed=1)
    by_language = {}
    for document in documents:
        language = reference.members_in_force(reference.cycles.get("2023"))[document["member"]].language
        by_language.setdefault(language, document)
    for language, document in sorted(by_language.items()):
        xlsx = xlsx_writer(document, context)[1]
        rows = {
            "xlsx": timed("q.xlsx", xlsx, ctx, args.repeat),
            "csv": timed("q.csv", csv_writer(document, context)[1], ctx, args.repeat),
            "json": timed("q.json", render_json(document), ctx, args.repeat),
        }
        summary = ", ".join(
            f"{fmt} median {statistics.median(t) * 1000:.1f} ms (max {max(t) * 1000:.1f})" for fmt, t in rows.items()
        )
        print(f"{language}: {len(document['answers'])} answers, xlsx {len(xlsx)} bytes; {summary}")


if __name__ == "__main__":
    main()
