"""Taking in a cycle's landing folder: archive every file by hash, read and check it, quarantine rejects.

Nothing in the landing folder is modified. Every file is read once through a descriptor opened
without following links, hashed, and copied to the content-addressed archive from the bytes that were
read (stages/ingestion/archive.py); then it is checked and either becomes a submission version or goes to
quarantine with a machine-readable reason. Each file is taken in on its own: whatever fails for one
file (reading, archiving, quarantining, a fault nobody foresaw) rejects that file with a reason and
the others go on. Versions received on earlier runs come back from the archive, verified against
their hash; when the receipt ledger (stages/ingestion/receipts.py) records them, with the receipt times it
recorded.
"""

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb
import pandas as pd

from pmm_pipeline.core.errors import is_systemic
from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.stages.ingestion.archive import (
    HEAD_SUFFIX,
    DamagedCopyError,
    archive_bytes,  # noqa: F401 - part of this module's interface (tests, callers)
    locate_copy,
    read_archived,
    safe_suffix,  # noqa: F401 - part of this module's interface
    store_copy,
)
from pmm_pipeline.stages.ingestion.arrivals import Arrival, ArrivalBook
from pmm_pipeline.stages.ingestion.freeze import VERSION_USE_COLUMNS, InputDeadline, mark_versions_in_use
from pmm_pipeline.stages.ingestion.landing import _arrival_order, _Delivered, _open_entry, landing_entries
from pmm_pipeline.stages.ingestion.limits import display_name
from pmm_pipeline.stages.ingestion.outcomes import (
    Accepted,
    DamagedCopy,
    Duplicate,
    IntakeResult,
    ReceivedFile,
    Rejection,
    duplicate_problem,
)
from pmm_pipeline.stages.ingestion.problem_lists import MAX_PROBLEM_MESSAGE_CHARS, listed_problems, problems_message
from pmm_pipeline.stages.ingestion.quarantine import quarantine
from pmm_pipeline.stages.ingestion.reading import ReadOutcome, judge_file
from pmm_pipeline.stages.ingestion.receipts import Receipt
from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.text import storable_text
from pmm_pipeline.stages.ingestion.validate import ValidationContext
from pmm_pipeline.warehouse.tables import RAW_ANSWERS, RAW_DISCLOSURE, RECEIVED_FILES, REJECTIONS, SUBMISSIONS
from pmm_pipeline.warehouse.writes import replace_cycle_rows_of_tables

MAX_LOGGED_REJECTIONS = 50
# Versions are ordered by submitted_at, which readers accept only up to the receipt time (plus a small
# clock tolerance): bounded again here, so that no date stated in a file can outrank what came after it.
ORDER_CLOCK_BOUND = dt.timedelta(days=1)
ARCHIVE_INTACT = "intact"


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
    """
    record = (
        dict(earlier) if earlier is not None else _legacy_record(previously_received, archived_earlier, archive_dir)
    )
    result = IntakeResult()
    known_names = {name for _, name in record}
    delivered: list[tuple[ReceivedFile, _Delivered]] = []
    taken_new = 0
    listed = _arrival_order(landing_entries(landing_dir))
    book = arrivals() if arrivals is not None else ArrivalBook()  # after the listing: see the docstring
    result.notes_ignored.extend(book.unreadable)
    for path in listed:
        name = display_name(path.name)
        if taken_new >= limits.max_files_per_run and name not in known_names:
            result.deferred.append(name)  # never opened: a flood of new names costs nothing beyond the cap
            continue
        try:
            entry = _open_entry(path, limits)
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
                _Delivered(
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
            outcome = judge_file(entry, received, ctx, limits, duplicate_of)
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


def _sent_by(contact: Mapping[str, str]) -> str | None:
    """`Name <e-mail>` of the contact person a questionnaire names, or what of it is given."""
    name, email = contact.get("contact_name"), contact.get("contact_email")
    if name and email:
        return f"{name} <{email}>"
    return name or email


def ordering_time(submitted_at: dt.datetime, received_at: dt.datetime) -> dt.datetime:
    """When a version counts as submitted for ordering: its stated time, never beyond its receipt (+ tolerance)."""
    return min(submitted_at, received_at + ORDER_CLOCK_BOUND)


def version_order(
    submitted_at: dt.datetime, received_at: dt.datetime, sha256: str | None, file_name: str
) -> tuple[dt.datetime, dt.datetime, str, str]:
    """Where a member's accepted version stands among its others: version n is the n-th by this key.

    The one definition of how versions are numbered: the intake numbers them by it, and the platform's verdict
    (stages/delivery/) gives the version a new upload will get by it.
    """
    return (ordering_time(submitted_at, received_at), received_at, sha256 or "", file_name)


def _storable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text of a frame as UTF-8 can hold it (DuckDB refuses lone surrogates, and so would the whole step)."""
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(storable_text)
    return frame


def intake_frames(
    result: IntakeResult,
    cycle: str,
    deadline: InputDeadline | None = None,
    first_intake_at: dt.datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """The raw tables' rows for a cycle: received files, submission versions, answers, choices, rejections.

    With the cycle's `deadline`, versions first seen after the inputs were frozen are kept but not used
    (see stages/ingestion/freeze.py); `first_intake_at` is the cycle's first intake as the ledger records it
    (default: the earliest receipt taken in). A version whose archived copy is damaged keeps its place
    and number, and is never used.
    """
    accepted_hashes = {a.received.sha256 for a in result.accepted}
    rejected_hashes = {r.received.sha256 for r in result.rejected}
    duplicates = {(d.received.sha256, d.received.file_name) for d in result.duplicates}
    damaged = {(d.received.sha256, d.received.file_name): d for d in result.damaged}

    def outcome(r: ReceivedFile) -> str:
        if (r.sha256, r.file_name) in damaged:
            return damaged[(r.sha256, r.file_name)].state
        if (r.sha256, r.file_name) in duplicates:
            return "duplicate"
        return "accepted" if r.sha256 in accepted_hashes else "rejected" if r.sha256 in rejected_hashes else "unread"

    received = pd.DataFrame(
        [
            {
                "cycle": cycle,
                **{k: getattr(r, k) for k in ("sha256", "file_name", "size_bytes", "received_at", "archive_path")},
                "outcome": outcome(r),
                "channel": r.channel,
                "account": r.account,
            }
            for r in result.received
        ],
        columns=RECEIVED_FILES.column_names,
    )

    # A damaged version that was accepted when last read keeps its place among the member's versions.
    versions_in_order = [
        (a.submission.member_code, a.submission.submitted_at, a.received, a, None) for a in result.accepted
    ] + [
        (d.record.member_code, d.record.submitted_at, d.received, None, d)
        for d in result.damaged
        if d.record.outcome == "accepted" and d.record.member_code and d.record.submitted_at
    ]
    versions_in_order.sort(key=lambda v: (v[0], *version_order(v[1], v[2].received_at, v[2].sha256, v[2].file_name)))
    versions: dict[str, int] = {}
    submission_rows, answer_rows, choice_rows = [], [], []
    for member, submitted_at, rec, a, d in versions_in_order:
        versions[member] = versions.get(member, 0) + 1
        s = a.submission if a else None
        submission_rows.append(
            {
                "cycle": cycle,
                "submission_id": rec.sha256,
                "member_code": member,
                "submitted_at": submitted_at,
                "received_at": rec.received_at,
                "file_name": rec.file_name,
                "format": s.format if s else d.record.format,
                "archive_path": rec.archive_path,
                "n_answers": len(s.answers) if s else d.record.n_answers,
                "sent_by": _sent_by(s.contact) if s else None,
                "version": versions[member],
                "archive_state": ARCHIVE_INTACT if s else d.state,
                "channel": rec.channel,
                "account": rec.account,
            }
        )
        if s is None:
            continue
        for ans in s.answers:
            answer_rows.append(
                {
                    "cycle": cycle,
                    "submission_id": rec.sha256,
                    "member_code": member,
                    "item": ans.item,
                    "year": ans.year,
                    "value": ans.value,
                    "value_text": ans.value_text,
                    "status": ans.status,
                    "comment": ans.comment,
                    "source_file": rec.file_name,
                    "source_pointer": ans.location.pointer,
                    "source_sheet": ans.location.sheet,
                    "source_cell": ans.location.cell,
                    "source_line": ans.location.line,
                }
            )
        for kpi_id, level in sorted(s.disclosure.items()):
            choice_rows.append(
                {
                    "cycle": cycle,
                    "submission_id": rec.sha256,
                    "member_code": member,
                    "kpi_id": kpi_id,
                    "disclosure": level,
                }
            )
    if first_intake_at is None:
        first_intake_at = min((r.received_at for r in result.received), default=None)
    submissions = mark_versions_in_use(
        pd.DataFrame(submission_rows, columns=[c for c in SUBMISSIONS.column_names if c not in VERSION_USE_COLUMNS]),
        first_intake_at=first_intake_at,
        deadline=deadline,
    )

    def rejection_row(rec: ReceivedFile, problems: list[Problem], where: str | None, member: str | None) -> dict:
        listed = listed_problems(problems)
        return {
            "cycle": cycle,
            "sha256": rec.sha256,
            "file_name": rec.file_name,
            "received_at": rec.received_at,
            "reason_code": problems[0].code,
            "message": problems_message(problems),
            "problems": json.dumps(listed),
            "quarantine_path": where,
            "member_code": member,
            "channel": rec.channel,
            "account": rec.account,
        }

    rejection_rows = [rejection_row(r.received, r.problems, r.quarantine_path, r.member_code) for r in result.rejected]
    for d in result.duplicates:
        # Recorded so that the sender hears of it; the bytes are those of the original, already archived.
        rejection_rows.append(rejection_row(d.received, [duplicate_problem(d.original)], None, d.member_code))
    for d in result.damaged:
        # On record, loud, and told to the member named by the content when it was read: it must be sent again.
        rejection_rows.append(rejection_row(d.received, [Problem(d.state, d.message)], None, d.record.member_code))
    rejections = pd.DataFrame(rejection_rows, columns=REJECTIONS.column_names)
    frames = {
        "received_files": received,
        "submissions": submissions,
        "answers": pd.DataFrame(answer_rows, columns=RAW_ANSWERS.column_names).astype(
            {"value": "float64", "year": "int64", "source_line": "Int64"}
        ),
        "disclosure_choices": pd.DataFrame(choice_rows, columns=RAW_DISCLOSURE.column_names),
        "rejections": rejections,
    }
    return {name: _storable_frame(frame) for name, frame in frames.items()}


RAW_TABLES = {
    "received_files": RECEIVED_FILES,
    "submissions": SUBMISSIONS,
    "answers": RAW_ANSWERS,
    "disclosure_choices": RAW_DISCLOSURE,
    "rejections": REJECTIONS,
}


def write_raw_tables(conn: duckdb.DuckDBPyConnection, cycle: str, frames: Mapping[str, pd.DataFrame]) -> None:
    """Replace the cycle's rows of the five raw tables in one transaction: all of them, or none."""
    replace_cycle_rows_of_tables(conn, cycle, [(table, frames[name]) for name, table in RAW_TABLES.items()])


def damaged_copies(result: IntakeResult) -> pd.DataFrame:
    """One row per version on record whose archived copy is gone or altered (what the asset check lists)."""
    rows = [
        {
            "file_name": d.received.file_name,
            "sha256": d.received.sha256,
            "outcome": d.state,
            "expected_sha256": d.error.expected,
            "found_sha256": d.error.found or "missing",
            "archive_path": str(d.error.path),
            "member_code": d.record.member_code,
            "received_at": d.received.received_at.isoformat(),
        }
        for d in result.damaged
    ]
    columns = [
        "file_name",
        "sha256",
        "outcome",
        "expected_sha256",
        "found_sha256",
        "archive_path",
        "member_code",
        "received_at",
    ]
    return _storable_frame(pd.DataFrame(rows, columns=columns))


def damaged_copies_description(damaged: pd.DataFrame, members_on_hold: list[str], listed: int = 20) -> str:
    """What the failed check says: which files, what is wrong with each, and what to do."""
    names = [
        f"{row.file_name} (sha256 {row.sha256}: "
        f"{'missing' if row.found_sha256 == 'missing' else 'found ' + row.found_sha256})"
        for row in damaged.head(listed).itertuples()
    ]
    more = f" and {len(damaged) - listed} more" if len(damaged) > listed else ""
    hold = f" Members on hold (no version used until then): {', '.join(members_on_hold)}." if members_on_hold else ""
    return (
        f"{len(damaged)} archived cop{'y is' if len(damaged) == 1 else 'ies are'} missing or altered:"
        f" {'; '.join(names)}{more}."
        " These versions are kept on record but not used." + hold + " Restore each copy from a backup to its"
        " archive path (listed in this check's metadata), or have the member send the file again."
    )


def intake_log_lines(rejections: pd.DataFrame, limit: int = MAX_LOGGED_REJECTIONS) -> list[str]:
    """Operator log lines for the rejections (storable, bounded in number: raw.rejections has them all)."""
    lines = [
        f"rejected {row.file_name}: [{row.reason_code}] {row.message}" for row in rejections.head(limit).itertuples()
    ]
    if len(rejections) > limit:
        lines.append(f"... and {len(rejections) - limit} more rejection(s): see raw.rejections")
    return lines
