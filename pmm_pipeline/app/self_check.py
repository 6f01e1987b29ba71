"""`pmm validate`: an NCP's offline self-check of one file, saying what the intake and the quality gate would say.

Nothing here has rules of its own: the file goes through the intake's own reading and checks (`read_file` via
`read_delivered`, with the intake's ValidationContext and limits, received now), its rows are built by the
intake's `intake_frames`, staged by the staging SQL and judged by the quality gate's `evaluate_quality`, all in a
private in-memory DuckDB. So the problems and findings are those the pipeline records, by construction, and the
self-check can never drift from them. Nothing is written anywhere: no warehouse, archive, landing or quarantine.

Rules that compare a member with others or with its own earlier cycles cannot be judged from one file; they are
listed as not checked rather than guessed (OFFLINE_LIMITS). How a check is shown (text, --json, the feedback
workbook) is self_check_report.py.
"""

import datetime as dt
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.feedback.report import FeedbackRow, rows_from_findings, rows_from_rejections, sort_rows
from pmm_pipeline.stages.ingestion.archive import read_hashed
from pmm_pipeline.stages.ingestion.context import validation_context
from pmm_pipeline.stages.ingestion.landing import Delivered
from pmm_pipeline.stages.ingestion.limits import display_name
from pmm_pipeline.stages.ingestion.outcomes import Accepted, IntakeResult, ReceivedFile, Rejection
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.ingestion.reading import READERS, read_delivered
from pmm_pipeline.stages.quality.offline import OFFLINE_LIMITS, gate_findings_of_file
from pmm_pipeline.warehouse.tables import FINDINGS


class SelfCheckError(ValueError):
    """The file cannot be checked at all (it does not exist, is no regular file, cannot be read)."""


@dataclass(frozen=True)
class LocalFile:
    """The file as the intake would hold it: its name, hash, size and bytes (None when over the size limit)."""

    path: Path
    sha256: str
    size: int
    data: bytes | None
    head: bytes


def read_local_file(path: Path, limits: IntakeLimits) -> LocalFile:
    """Read a file the NCP names, hashing all of it but holding at most the intake's size limit in memory.

    A link is followed (it is the NCP's own file, sent as its content); anything but a regular file is refused.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SelfCheckError(f"{path}: no such file") from None
    except OSError as err:
        raise SelfCheckError(f"{path}: cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SelfCheckError(f"{path}: not a file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        try:
            digest, size, head = read_hashed(fd, limits.max_file_bytes)
        finally:
            os.close(fd)
    except OSError as err:
        raise SelfCheckError(f"{path}: cannot be read ({err.strerror})") from None
    data = head if size <= limits.max_file_bytes else None
    return LocalFile(path, digest, size, data, head)


def stated_cycle(local: LocalFile, limits: IntakeLimits) -> Any:
    """The `cycle` the file states, read by the intake's reader for its suffix; None when it cannot be read."""
    reader = READERS.get(local.path.suffix.lower())
    if reader is None or local.data is None:
        return None
    try:
        return reader(local.data, limits).cycle
    except Exception:  # noqa: BLE001 - a file that cannot be read names no cycle; the check then says why
        return None


def choose_cycle(reference: Reference, stated: Any, now: dt.datetime) -> Cycle:
    """The cycle the file names when it is a configured one; else the one collecting now, else the latest."""
    if isinstance(stated, str) and stated.strip() in reference.cycles.ids:
        return reference.cycles.get(stated.strip())
    today = reference.cycles.local_day(now)
    collecting = [c for c in reference.cycles.cycles if c.is_collecting_on(today)]
    return max(collecting or reference.cycles.cycles, key=lambda c: (c.reporting_year, c.id))


@dataclass(frozen=True)
class SelfCheck:
    """What the pipeline would record of one file: the verdict with its problems, and the gate's findings."""

    file_name: str
    sha256: str
    size_bytes: int
    cycle: Cycle
    checked_at: dt.datetime
    member_code: str | None
    rejections: pd.DataFrame  # raw.rejections rows (0 or 1) exactly as the intake builds them
    findings: pd.DataFrame  # quality.findings rows of the rules judged offline
    collecting: bool
    stated_cycle: Any = None
    cycle_from: str = "file"  # "option" (--cycle), "file" (the cycle it states) or "default" (it states none known)
    limits: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(OFFLINE_LIMITS))

    @property
    def accepted(self) -> bool:
        return self.rejections.empty

    @property
    def reason_code(self) -> str | None:
        return None if self.accepted else str(self.rejections.iloc[0]["reason_code"])

    @property
    def n_blocking(self) -> int:
        return int((self.findings["severity"] == "blocking").sum())

    @property
    def exit_status(self) -> int:
        """0 when the file would be accepted and admitted; 1 when rejected or kept out by a blocking finding."""
        return 0 if self.accepted and self.n_blocking == 0 else 1

    def rows(self) -> list[FeedbackRow]:
        """The member's feedback rows, as the feedback report builds them from the two tables."""
        return sort_rows(rows_from_rejections(self.rejections) + rows_from_findings(self.findings))


def _gate_findings(frames: dict[str, pd.DataFrame], reference: Reference, catalogue: Catalogue, cycle: Cycle):
    """The quality gate on the file alone (stages/quality/offline.py: shared with the member platform)."""
    return gate_findings_of_file(frames, reference, catalogue, cycle)


def check_file(
    path: Path,
    reference: Reference,
    catalogue: Catalogue,
    limits: IntakeLimits,
    cycle_id: str | None = None,
    now: dt.datetime | None = None,
) -> SelfCheck:
    """Check one file as the intake and the quality gate would if it were delivered now for the cycle."""
    now = now or dt.datetime.now(dt.UTC)
    local = read_local_file(path, limits)
    stated = stated_cycle(local, limits)
    cycle = reference.cycles.get(cycle_id) if cycle_id else choose_cycle(reference, stated, now)
    ctx = validation_context(reference, catalogue, cycle.id)
    name = display_name(path.name)
    received = ReceivedFile(local.sha256, name, local.size, now, None)
    entry = Delivered(path, name, local.sha256, local.size, local.data, file_name=path.name, head=local.head)
    outcome = read_delivered(entry, received, ctx, limits)
    if outcome.submission is None:
        result = IntakeResult(
            received=[received], rejected=[Rejection(received, outcome.problems, None, outcome.member_code)]
        )
    else:
        result = IntakeResult(received=[received], accepted=[Accepted(received, outcome.submission)])
    frames = intake_frames(result, cycle.id)
    findings = (
        _gate_findings(frames, reference, catalogue, cycle) if outcome.submission is not None else _empty_findings()
    )
    member = outcome.submission.member_code if outcome.submission is not None else outcome.member_code
    return SelfCheck(
        file_name=name,
        sha256=local.sha256,
        size_bytes=local.size,
        cycle=cycle,
        checked_at=now,
        member_code=member,
        rejections=frames["rejections"],
        findings=findings,
        collecting=cycle.is_collecting_on(reference.cycles.local_day(now)),
        stated_cycle=stated,
        cycle_from="option"
        if cycle_id
        else "file"
        if isinstance(stated, str) and stated.strip() == cycle.id
        else "default",
    )


def _empty_findings() -> pd.DataFrame:
    return pd.DataFrame(columns=FINDINGS.column_names)
