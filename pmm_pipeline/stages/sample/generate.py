"""A sample cycle written into its landing folder: realistic submissions, broken files, quality defects."""

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmm_pipeline.core.files import write_atomically
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.sample.broken import ErroneousFile, corrupt_documents
from pmm_pipeline.stages.sample.defects import inject_quality_defects
from pmm_pipeline.stages.sample.documents import build_sample_documents, render_json
from pmm_pipeline.stages.sample.formats import SampleContext, csv_writer, xlsx_writer
from pmm_pipeline.stages.sample.moments import parse_timestamp


@dataclass(frozen=True)
class SampleSummary:
    cycle: str
    members_in_force: int
    members_selected: int
    participating: int
    documents: int
    files_written: int
    erroneous_by_reason: dict[str, int]
    quality_defects: tuple[tuple[str, str], ...] = ()  # (member, rule) seeded for the quality gate

    def __str__(self) -> str:
        errors = ", ".join(f"{code} {n}" for code, n in sorted(self.erroneous_by_reason.items()))
        defects = ", ".join(f"{member} {rule}" for member, rule in self.quality_defects)
        return (
            f"cycle {self.cycle}: {self.members_in_force} members in force, "
            f"{self.members_selected} selected, {self.participating} participating, "
            f"{self.documents} submissions, {self.files_written} files written"
            + (f"; erroneous files: {errors}" if errors else "")
            + (f"; quality defects seeded: {defects}" if defects else "")
        )


def _json_writer(document: dict[str, Any], _context: SampleContext | None) -> tuple[str, bytes]:
    return ".json", render_json(document)


# Format name -> function giving a document's file suffix and bytes; the Excel questionnaire needs the
# catalogue and the members' languages, given as the SampleContext.
WRITERS: dict[str, Callable[[dict[str, Any], SampleContext | None], tuple[str, bytes]]] = {
    "json": _json_writer,
    "xlsx": xlsx_writer,
    "csv": csv_writer,
}


def _checked_formats(formats: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    if not names:
        raise ValueError("at least one format is needed")
    for name in names:
        if name not in WRITERS:
            raise ValueError(f"unknown format {name!r}; choose from {', '.join(WRITERS)}")
    return names


def write_sample(
    landing_dir: Path,
    documents: Sequence[dict[str, Any]],
    erroneous_files: Sequence[ErroneousFile] = (),
    formats: Sequence[str] = ("json",),
    context: SampleContext | None = None,
) -> list[Path]:
    """Write `<member>_<cycle>_v<k>` files (k in submitted_at order) and the broken ones; return paths.

    With several formats, members take them in turn (in member order), so that every format is
    exercised without one submission arriving twice.
    """
    names = _checked_formats(formats)
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    by_member: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_member.setdefault(document["member"], []).append(document)
    written: list[Path] = []
    for index, member in enumerate(sorted(by_member)):
        writer = WRITERS[names[index % len(names)]]
        versions = sorted(by_member[member], key=lambda d: parse_timestamp(d["submitted_at"]))
        for version, document in enumerate(versions, start=1):
            suffix, data = writer(document, context)
            path = landing_dir / f"{member}_{document['cycle']}_v{version}{suffix}"
            write_atomically(path, data)
            written.append(path)
    for bad in erroneous_files:
        path = landing_dir / bad.file_name
        write_atomically(path, bad.data)
        written.append(path)
    return written


def summarize_sample(
    reference: Reference,
    cycle_id: str,
    documents: Sequence[dict[str, Any]],
    erroneous_files: Sequence[ErroneousFile] = (),
    written: Sequence[Path] = (),
    members: int | None = None,
) -> SampleSummary:
    in_force = len(reference.members_in_force(reference.cycles.get(cycle_id)))
    return SampleSummary(
        cycle=cycle_id,
        members_in_force=in_force,
        members_selected=in_force if members is None else members,
        participating=len({d["member"] for d in documents}),
        documents=len(documents),
        files_written=len(written),
        erroneous_by_reason=dict(Counter(bad.expected_reason for bad in erroneous_files)),
    )


def generate_sample(
    reference: Reference,
    catalogue: Catalogue,
    cycle_id: str,
    landing_dir: Path,
    members: int | None = None,
    seed: int = 0,
    formats: Sequence[str] = ("json",),
    error_share: float = 0.0,
    quality_defect_share: float = 0.0,
) -> SampleSummary:
    """Everything `pmm sample` does: build, seed quality defects, break a share, write, and say what was written."""
    _checked_formats(formats)  # fail before anything is written
    if not 0 <= quality_defect_share <= 1:
        raise ValueError("quality_defect_share must be between 0 and 1")
    documents = build_sample_documents(reference, catalogue, cycle_id, members, seed)
    defects = (
        inject_quality_defects(documents, reference, catalogue, cycle_id, quality_defect_share, seed)
        if quality_defect_share
        else []
    )
    erroneous = corrupt_documents(documents, reference, catalogue, cycle_id, error_share, seed)
    written = write_sample(landing_dir, documents, erroneous, formats, SampleContext(reference, catalogue))
    summary = summarize_sample(reference, cycle_id, documents, erroneous, written, members)
    return dataclasses.replace(summary, quality_defects=tuple(defects))
