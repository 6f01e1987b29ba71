"""What the pipeline knows of a cycle's files without opening the warehouse: the receipt ledger, the platform's
arrival notes and the landing folder's files not taken in yet.

The platform reads these (never the DuckDB warehouse, whose single-writer lock must never make a person wait) to
number a new upload's version and to spot a file sent twice, exactly as the next intake run will, and to list a
member's versions with their verdicts.
"""

import datetime as dt
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.stages.ingestion.arrivals import LANDING, Arrival, ArrivalBook, notes_path, read_arrivals
from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.landing import landing_entries, open_entry
from pmm_pipeline.stages.ingestion.limits import display_name
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.ingestion.receipts import Receipt, ledger_path, read_ledger
from pmm_pipeline.stages.ingestion.versions import version_order

ACCEPTED = "accepted"
# A landing file no run has listed yet is received when one does: after every upload already received.
PENDING_AFTER = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class KnownFile:
    """One file version of a cycle as the records show it."""

    sha256: str | None
    file_name: str  # as the intake records it (the landing name)
    received_at: dt.datetime | None  # None: in landing, not yet listed by any run
    status: str | None  # accepted, rejected, duplicate (or what the ledger says, e.g. None for unread)
    member: str | None  # the member it is credited to
    submitted_at: dt.datetime | None  # what orders it among the member's versions (accepted only)
    size_bytes: int = 0
    arrival: Arrival | None = None  # its arrival note, for a platform delivery
    receipt: Receipt | None = None  # its line in the receipt ledger, once a run took it in

    @property
    def channel(self) -> str:
        return self.arrival.channel if self.arrival else LANDING

    def order_key(self, pending_at: dt.datetime) -> tuple:
        received = self.received_at or pending_at
        return version_order(self.submitted_at or received, received, self.sha256, self.file_name)


@dataclass(frozen=True)
class CycleRecords:
    files: list[KnownFile]
    notes: ArrivalBook

    def accepted_of(self, member: str) -> list[KnownFile]:
        return [f for f in self.files if f.status == ACCEPTED and f.member == member and f.sha256]

    def latest_platform_receipt(self) -> dt.datetime | None:
        """The latest receipt time the platform recorded for this cycle (its notes only: they are in lock order)."""
        return max((a.received_at for a in self.notes.notes.values()), default=None)

    def first_with(self, sha256: str, before: tuple[dt.datetime, str]) -> KnownFile | None:
        """The first file received with these bytes before (received_at, name): what a new copy duplicates."""
        earlier = [
            f
            for f in self.files
            if f.sha256 == sha256 and f.received_at is not None and (f.received_at, f.file_name) < before
        ]
        return min(earlier, key=lambda f: (f.received_at, f.file_name), default=None)


def version_among(records: CycleRecords, member: str, key: tuple, pending_at: dt.datetime) -> int:
    """The number the intake gives a member's accepted version whose order key is `key` (1 for the first)."""
    return 1 + sum(1 for f in records.accepted_of(member) if f.order_key(pending_at) < key)


_pending_lock = threading.Lock()
# (folder, name, inode, size, mtime) -> (sha256, status, member, submitted_at): a hand-copied file is read once.
_pending_cache: dict[tuple, tuple] = {}


def _pending_file(
    path: Path, info: os.stat_result, ctx: ValidationContext, limits: IntakeLimits, now: dt.datetime
) -> KnownFile | None:
    key = (str(path.parent), path.name, info.st_ino, info.st_size, info.st_mtime_ns, ctx.cycle.id)
    with _pending_lock:
        cached = _pending_cache.get(key)
    if cached is None:
        entry = open_entry(path, limits)
        if entry.sha256 is None:
            return None  # not a file: it is no version of anybody's
        outcome = read_file(path.name, entry.data, ctx, limits, received_at=None) if entry.data is not None else None
        submission = outcome.submission if outcome else None
        cached = (
            entry.sha256,
            ACCEPTED if submission else "rejected",
            submission.member_code if submission else (outcome.member_code if outcome else None),
            submission.submitted_at if submission else None,
            entry.size,
        )
        with _pending_lock:
            if len(_pending_cache) > 10_000:
                _pending_cache.clear()
            _pending_cache[key] = cached
    sha, status, member, submitted_at, size = cached
    return KnownFile(sha, display_name(path.name), None, status, member, submitted_at, size)


def cycle_records(
    archive_dir: Path, landing_dir: Path, ctx: ValidationContext, limits: IntakeLimits, *, pending: bool = True
) -> CycleRecords:
    """Every file version of the cycle that the next intake will take in, with what it will make of each.

    Ledger receipts keep what the last run read; platform notes not taken in yet carry the platform's verdict;
    with `pending`, files copied into landing and not listed by a run yet are read (once per file state).
    """
    cycle = ctx.cycle.id
    ledger = read_ledger(ledger_path(archive_dir, cycle))
    notes = read_arrivals(notes_path(archive_dir, cycle))
    files: list[KnownFile] = []
    for key, receipt in ledger.receipts.items():
        arrival = notes.get(*key)
        files.append(
            KnownFile(
                receipt.sha256,
                receipt.file_name,
                receipt.received_at,
                receipt.outcome,
                receipt.member_code,
                receipt.submitted_at,
                receipt.size_bytes,
                arrival,
                receipt,
            )
        )
    for key, arrival in notes.notes.items():
        if key in ledger.receipts:
            continue
        verdict = arrival.verdict
        status = ACCEPTED if verdict.get("status") == ACCEPTED else "rejected"
        files.append(
            KnownFile(
                arrival.sha256,
                arrival.landing_name,
                arrival.received_at,
                status,
                verdict.get("member") or arrival.member,
                arrival.received_at if status == ACCEPTED else None,
                arrival.size_bytes,
                arrival,
            )
        )
    if pending:
        for path in landing_entries(landing_dir):
            try:
                info = path.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            found = _pending_file(path, info, ctx, limits, dt.datetime.now(dt.UTC))
            if found is None or (found.sha256, found.file_name) in ledger.receipts:
                continue
            if (found.sha256, found.file_name) in notes.notes:
                continue
            files.append(found)  # new bytes, under a new name or a known one: a new version for the next run
    return CycleRecords(files, notes)
