"""Taking in a cycle's landing folder: archive every file by hash, read and check it, quarantine rejects.

Nothing in the landing folder is modified. Every file is read once through a descriptor opened
without following links, hashed, and copied to the content-addressed archive from the bytes that were
read (stages/ingestion/archive.py); then it is checked and either becomes a submission version or goes to
quarantine with a machine-readable reason. Each file is taken in on its own: whatever fails for one
file (reading, archiving, quarantining, a fault nobody foresaw) rejects that file with a reason and
the others go on. Versions received on earlier runs come back from the archive, verified against
their hash; when the receipt ledger (stages/ingestion/receipts.py) records them, with the receipt times it
recorded.

This module is the loop. What it does to each file lives beside it: landing.py opens a landing entry,
reading.py reads and judges a version, quarantine.py sets a reject apart; raw_tables.py turns the
`IntakeResult` (outcomes.py) into the raw tables' rows.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

from pmm_pipeline.core.errors import is_systemic
from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.stages.ingestion.archive import HEAD_SUFFIX, DamagedCopyError, locate_copy, read_archived, store_copy
from pmm_pipeline.stages.ingestion.arrivals import Arrival, ArrivalBook
from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.landing import Delivered, arrival_order, landing_entries, open_entry
from pmm_pipeline.stages.ingestion.limits import display_name
from pmm_pipeline.stages.ingestion.outcomes import (
    Accepted,
    DamagedCopy,
    Duplicate,
    IntakeResult,
    ReceivedFile,
    Rejection,
)
from pmm_pipeline.stages.ingestion.problem_lists import MAX_PROBLEM_MESSAGE_CHARS
from pmm_pipeline.stages.ingestion.quarantine import quarantine
from pmm_pipeline.stages.ingestion.read_cache import ReadCache
from pmm_pipeline.stages.ingestion.reading import ReadOutcome, judge_file
from pmm_pipeline.stages.ingestion.receipts import Receipt
from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.text import storable_text


def _legacy_record(
    previously_received: Mapping[tuple[str, str], dt.datetime],
    archived_earlier: Mapping[tuple[str, str], str] | None,
    archive_dir: Path,
) -> dict[tuple[str | None, str], Receipt]:
    """Receipts from the older arguments: receipt times, and archived copies of versions no longer in landing."""
    record = {}
    for (sha, name), at in previously_received.items():
        path = (archived_earlier or {}).get((sha, name))
        relative = _relative(Path(path), archive_dir) if path else None
        record[(sha, name)] = Receipt(sha, name, 0, at, relative)
    return record


def _relative(path: Path, archive_dir: Path) -> str:
    try:
        return path.relative_to(archive_dir).as_posix()
    except ValueError:
        return str(path)


def _failure(err: BaseException) -> str:
    return storable_text(f"{type(err).__name__}: {err}")[:MAX_PROBLEM_MESSAGE_CHARS]


def take_in_cycle(
    landing_dir: Path,
    archive_dir: Path,
    quarantine_dir: Path,
    ctx: ValidationContext,
    previously_received: Mapping[tuple[str, str], dt.datetime],
    now: dt.datetime,
    limits: IntakeLimits = DEFAULT_LIMITS,
    archived_earlier: Mapping[tuple[str, str], str] | None = None,
    *,
    earlier: Mapping[tuple[str | None, str], Receipt] | None = None,
    arrivals: Callable[[], ArrivalBook] | None = None,
    reads: ReadCache | None = None,
) -> IntakeResult:
    """Archive, read and check every file of a cycle's landing folder, and every version received before.

    `earlier` holds the receipts on record (the ledger): a version keeps the receipt time recorded when
    it was first seen, and a version no longer in the landing folder is read back from its archived
    copy, verified against its hash; a copy that is gone or altered is kept on record as damaged
    (`IntakeResult.damaged`), never used and never silently dropped. Without `earlier`, the older
    `previously_received` (receipt times) and `archived_earlier` (copies) arguments say the same.

    Files are taken in the order they were first received (then by name): a file with the bytes of an
    earlier one is a duplicate, recorded but not read again. At most `limits.max_files_per_run` landing
    files not on record yet are taken in; the others are left in landing for the next run
    (`IntakeResult.deferred`). Any failure while taking in one file rejects that file alone.

    `arrivals` reads the platform's arrival notes (stages/ingestion/arrivals.py); it is called once the
    landing folder is listed, so every listed platform file has its note. A file with a note that matches its
    bytes is a platform version (received when the platform received it, credited to its account); a noted
    version missing from landing is taken in from its archived copy.

    `reads` holds the accepted reads of the last intake (stages/ingestion/read_cache.py): a version whose read
    depends on nothing that changed since is not parsed again; this intake's accepted reads are added to it.
    """
    record = (
        dict(earlier) if earlier is not None else _legacy_record(previously_received, archived_earlier, archive_dir)
    )
    result = IntakeResult()
    known_names = {name for _, name in record}
    delivered: list[tuple[ReceivedFile, Delivered]] = []
    taken_new = 0
    listed = arrival_order(landing_entries(landing_dir))
    book = arrivals() if arrivals is not None else ArrivalBook()  # after the listing: see the docstring
    result.notes_ignored.extend(book.unreadable)
    for path in listed:
        name = display_name(path.name)
        if taken_new >= limits.max_files_per_run and name not in known_names:
            result.deferred.append(name)  # never opened: a flood of new names costs nothing beyond the cap
            continue
        try:
            entry = open_entry(path, limits)
        except Exception as err:  # noqa: BLE001 - one file's fault never stops the others
            if is_systemic(err):
                raise
            _reject_alone(result, ReceivedFile(None, name, 0, now, None), err, quarantine_dir)
            continue
        previous = record.get((entry.sha256, name))
        if previous is None:
            if taken_new >= limits.max_files_per_run:
                result.deferred.append(name)
                continue
            taken_new += 1
        arrival = book.get(entry.sha256, name)
        if arrival is None and (mismatch := book.mismatch(entry.sha256, name)):
            result.notes_ignored.append(mismatch)
        # A platform file was received when the platform received it, whenever a run first lists it.
        received_at = previous.received_at if previous else arrival.received_at if arrival else now
        if entry.sha256 is None:
            received = ReceivedFile(None, name, 0, received_at, None)
            problem = Problem(
                "not_a_regular_file",
                f"{name!r} is {entry.not_a_file}, not a file; put the file itself in the landing folder",
            )
            try:
                where = str(quarantine(None, received, [problem], quarantine_dir))
            except Exception:  # noqa: BLE001 - the rejection is recorded even where its reason file cannot be
                where = None
            result.rejected.append(Rejection(received, [problem], where, None))
            result.receipts.append(Receipt(None, name, 0, received_at, None, outcome="rejected"))
            continue
        try:
            stored = store_copy(entry.head, entry.sha256, entry.size, archive_dir, path.name)
        except Exception as err:  # noqa: BLE001 - this file waits in landing for the next run
            if is_systemic(err):
                raise
            received = _with_arrival(ReceivedFile(entry.sha256, name, entry.size, received_at, None), arrival)
            _reject_alone(result, received, err, quarantine_dir, data=None)
            continue
        if stored.repaired:
            result.repaired.append(name)
        received = _with_arrival(ReceivedFile(entry.sha256, name, entry.size, received_at, str(stored.path)), arrival)
        result.received.append(received)
        delivered.append((received, dataclasses.replace(entry, file_name=path.name)))

    in_landing = {(r.sha256, r.file_name) for r, _ in delivered}
    # A version the platform noted but no run took in yet, and no longer in landing (removed, replaced, or the
    # delivery stopped before placing it): its archived copy is the file (archived before the note was written).
    for key, arrival in book.notes.items():
        if key not in record and key not in in_landing:
            record[key] = Receipt(arrival.sha256, arrival.landing_name, arrival.size_bytes, arrival.received_at, None)
    for key, receipt in sorted(record.items(), key=lambda kv: (kv[1].received_at, kv[0][1], kv[0][0] or "")):
        if receipt.sha256 is None or key in in_landing:
            continue
        copy_path = (
            archive_dir / receipt.archive_path
            if receipt.archive_path and not Path(receipt.archive_path).is_absolute()
            else Path(receipt.archive_path)
            if receipt.archive_path
            else locate_copy(archive_dir, receipt.sha256, receipt.file_name)
        )
        received = _with_arrival(
            ReceivedFile(receipt.sha256, receipt.file_name, receipt.size_bytes, receipt.received_at, str(copy_path)),
            book.get(receipt.sha256, receipt.file_name),
        )
        try:
            copy = read_archived(copy_path, receipt.sha256, limits.max_file_bytes)
        except DamagedCopyError as err:
            result.received.append(received)
            result.damaged.append(DamagedCopy(received, err, receipt))
            continue
        except OSError as err:  # a copy that cannot be read cannot be trusted either
            damaged = DamagedCopyError(copy_path, receipt.sha256, "unreadable", f" ({err.strerror})")
            result.received.append(received)
            result.damaged.append(DamagedCopy(received, damaged, receipt))
            continue
        received = dataclasses.replace(received, size_bytes=copy.size)
        result.received.append(received)
        delivered.append(
            (
                received,
                Delivered(
                    copy_path, receipt.file_name, receipt.sha256, copy.size, copy.data, file_name=receipt.file_name
                ),
            )
        )

    first_of: dict[str, tuple[ReceivedFile, str | None]] = {}
    for received, entry in sorted(delivered, key=lambda d: (d[0].received_at, d[0].file_name)):
        relative = _relative(Path(received.archive_path), archive_dir)
        base = Receipt(received.sha256, received.file_name, received.size_bytes, received.received_at, relative)
        duplicate_of = first_of.get(received.sha256) if entry.size > 0 else None  # two empty files are not copies
        try:
            outcome = judge_file(entry, received, ctx, limits, duplicate_of, reads)
            if isinstance(outcome, Duplicate):
                result.duplicates.append(outcome)
                result.receipts.append(dataclasses.replace(base, outcome="duplicate", member_code=outcome.member_code))
                continue  # the same bytes under another name: one submission version, not two
        except Exception as err:  # noqa: BLE001 - read_file never raises for content; this is a fault of ours
            if is_systemic(err):
                raise
            message = f"the file could not be read ({_failure(err)}); send it again if this stays"
            outcome = ReadOutcome(None, [Problem("unreadable_file", message)], None)
        if received.sha256 not in first_of:
            first_of[received.sha256] = (received, outcome.member_code)
        if outcome.submission is None:
            linked = (
                Path(received.archive_path).with_name(f"{received.sha256}{HEAD_SUFFIX}") if entry.data is None else None
            )
            problems = outcome.problems
            try:
                where = str(quarantine(entry.data, received, problems, quarantine_dir, linked))
            except Exception as err:  # noqa: BLE001 - still rejected and recorded, without a quarantined copy
                where = None
                problems = problems + [
                    Problem("intake_failed", f"the quarantined copy could not be written ({_failure(err)})")
                ]
            result.rejected.append(Rejection(received, problems, where, outcome.member_code))
            result.receipts.append(dataclasses.replace(base, outcome="rejected", member_code=outcome.member_code))
        else:
            s = outcome.submission
            result.accepted.append(Accepted(received, s))
            result.receipts.append(
                dataclasses.replace(
                    base,
                    outcome="accepted",
                    member_code=s.member_code,
                    submitted_at=s.submitted_at,
                    n_answers=len(s.answers),
                    format=s.format,
                )
            )
    return result


def _with_arrival(received: ReceivedFile, arrival: Arrival | None) -> ReceivedFile:
    """The received file with its channel and sender when the platform delivered it (its note matches it)."""
    if arrival is None:
        return received
    return dataclasses.replace(received, channel=arrival.channel, account=arrival.account, arrival=arrival)


def _reject_alone(
    result: IntakeResult, received: ReceivedFile, err: BaseException, quarantine_dir: Path, data: bytes | None = None
) -> None:
    """Record a file that could not be taken in (it stays in landing and is tried again on the next run)."""
    problem = Problem(
        "intake_failed",
        f"the file could not be taken in ({_failure(err)}); it stays in the landing folder and is tried again"
        " on the next run",
    )
    try:
        where = str(quarantine(data, received, [problem], quarantine_dir))
    except Exception:  # noqa: BLE001 - e.g. the same full disk: the row in raw.rejections still says why
        where = None
    if received.sha256:  # its hash is known: it shows among the files received, with no archived copy
        result.received.append(received)
    result.rejected.append(Rejection(received, [problem], where, None))
