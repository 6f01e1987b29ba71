"""Taking in a cycle's landing folder: archive every file by hash, read and check it, quarantine rejects.

Nothing in the landing folder is modified. Every file is copied to the content-addressed archive
first, so that it is kept whatever happens next; then it is read from memory, checked, and either
becomes a submission version or goes to quarantine with a machine-readable reason.
"""

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmm_pipeline.files import write_atomically
from pmm_pipeline.ingestion.csv_reader import read_csv_submission
from pmm_pipeline.ingestion.freeze import VERSION_USE_COLUMNS, InputDeadline, mark_versions_in_use
from pmm_pipeline.ingestion.json_reader import read_json_submission
from pmm_pipeline.ingestion.limits import (
    DEFAULT_LIMITS,
    IntakeLimits,
    check_file_name,
    check_macro_suffix,
    display_name,
    file_name_member,
)
from pmm_pipeline.ingestion.submission import ParsedSubmission, Problem, ProblemList, RejectedFile, Submission
from pmm_pipeline.ingestion.validate import ValidationContext, validate_submission
from pmm_pipeline.ingestion.xlsx_reader import read_xlsx_submission
from pmm_pipeline.tables import RAW_ANSWERS, RAW_DISCLOSURE, RECEIVED_FILES, REJECTIONS, SUBMISSIONS

Reader = Callable[[bytes, IntakeLimits], ParsedSubmission]
READERS: dict[str, Reader] = {
    ".json": read_json_submission,
    ".xlsx": read_xlsx_submission,
    ".csv": read_csv_submission,
    ".tsv": read_csv_submission,
    ".txt": read_csv_submission,  # Excel's "Unicode text" export: UTF-16, tab-delimited
}
DEFAULT_MAX_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes
READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class ReceivedFile:
    """One file version seen in the landing folder (a file name and the hash of its bytes).

    A landing entry that is no regular file (a link, a folder) has no hash and no archived copy.
    """

    sha256: str | None
    file_name: str
    size_bytes: int
    received_at: dt.datetime
    archive_path: str | None


@dataclass(frozen=True)
class Rejection:
    received: ReceivedFile  # sha256 and archive_path are None for a landing entry that is no regular file
    problems: list[Problem]
    quarantine_path: str
    member_code: str | None = None  # who sent it, when its content or its name says

    @property
    def reason_code(self) -> str:
        return self.problems[0].code

    @property
    def message(self) -> str:
        return "; ".join(p.message for p in self.problems)


@dataclass(frozen=True)
class Accepted:
    received: ReceivedFile
    submission: Submission


@dataclass(frozen=True)
class Duplicate:
    """A file with exactly the bytes of one received before it: recorded, not read again."""

    received: ReceivedFile
    original: ReceivedFile
    member_code: str | None = None


@dataclass
class IntakeResult:
    received: list[ReceivedFile] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOutcome:
    submission: Submission | None
    problems: list[Problem]
    member_code: str | None  # the member the content names, when a known one (never from the file name alone)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_once(path: Path, data: bytes) -> None:
    """Write a file atomically unless it exists with these bytes (archive and quarantine copies never change).

    An existing copy of another size (cut short by a crash of the machine before it reached the disk)
    is written again rather than trusted.
    """
    if not path.exists() or path.stat().st_size != len(data):
        write_atomically(path, data)


def safe_suffix(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def archive_bytes(data: bytes, archive_dir: Path, file_name: str) -> Path:
    """Store the bytes at `archive/<sha[:2]>/<sha><suffix>`; an identical file is stored once."""
    digest = sha256_of(data)
    path = archive_dir / digest[:2] / f"{digest}{safe_suffix(file_name)}"
    _write_once(path, data)
    return path


def is_skipped(name: str) -> bool:
    """Hidden files and Office lock files (`~$x.xlsx`): uploads in progress, never submissions."""
    return name.startswith((".", "~$"))


def landing_entries(landing_dir: Path) -> list[Path]:
    """Every entry of the landing folder in name order, except hidden and lock files."""
    if not landing_dir.is_dir():
        return []
    return sorted(p for p in landing_dir.iterdir() if not is_skipped(p.name))


def _listed(problems: list[Problem], cap: int) -> list[Problem]:
    """At most `cap` problems, then the one saying the rest were not listed (the reader's, or a new one)."""
    summaries = [p for p in problems if p.code == "too_many_problems"]
    listed = ProblemList(cap, (p for p in problems if p.code != "too_many_problems"))
    if not listed.overflowed and not summaries:
        return list(listed)
    return [*listed, summaries[0] if summaries else listed.listed()[-1]]


def read_file(
    file_name: str,
    data: bytes,
    ctx: ValidationContext,
    limits: IntakeLimits = DEFAULT_LIMITS,
    *,
    received_at: dt.datetime | None = None,
) -> ReadOutcome:
    """Check one file's name and bytes, read and validate them; never raises for bad content.

    Every problem found is reported (up to PMM_MAX_PROBLEMS), the file name's first; a file name
    that starts with a member code (`KEN_...`) must name the member the content is from. The file
    is credited to the member its content names, when that is a known member code, and never to
    the member of its name alone: anyone can name a file `KEN_...`. `received_at` is when the file
    arrived (a `submitted_at` later than it is refused); None skips that check.
    """
    problems: list[Problem] = []
    name_problem = check_file_name(file_name, limits)
    if name_problem is not None:
        problems.append(name_problem)
    name_member = file_name_member(file_name, ctx.known_members)
    if not data:
        return ReadOutcome(None, problems + [Problem("empty_file", "the file is empty")], None)
    if len(data) > limits.max_file_bytes:
        message = f"the file has {len(data)} bytes, over the limit of {limits.max_file_bytes}"
        return ReadOutcome(None, problems + [Problem("file_too_large", message)], None)
    macro_problem = check_macro_suffix(file_name)
    reader = READERS.get(Path(file_name).suffix.lower())
    if macro_problem is not None or reader is None:
        known = ", ".join(sorted(READERS))
        unsupported = Problem(
            "unsupported_format", f"files ending {Path(file_name).suffix or '(none)'} are not read; send {known}"
        )
        return ReadOutcome(None, problems + [macro_problem or unsupported], None)

    def known_member(member: object) -> str | None:
        return member if isinstance(member, str) and member in ctx.known_members else None

    try:
        parsed = reader(data, limits)
        submission, found = validate_submission(parsed, ctx, limits, received_at=received_at)
    except RejectedFile as rejected:
        return ReadOutcome(None, problems + [rejected.problem], known_member(rejected.member))
    except Exception as err:  # nothing a member sends may crash the run: an unforeseen failure is a rejection
        suffix = Path(file_name).suffix
        message = f"the file could not be read ({type(err).__name__}); send it again as a valid {suffix}"
        return ReadOutcome(None, problems + [Problem("unreadable_file", message)], None)
    problems += found
    content_member = known_member(parsed.member.strip() if isinstance(parsed.member, str) else parsed.member)
    if name_member and content_member and name_member != content_member:
        problems.append(
            Problem(
                "member_mismatch",
                f"the file name says {name_member} but the file is a submission of {content_member}",
            )
        )
    problems = _listed(problems, limits.max_problems)
    return ReadOutcome(None if problems else submission, problems, content_member)


def read_submission(
    file_name: str,
    data: bytes,
    ctx: ValidationContext,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    *,
    received_at: dt.datetime | None = None,
) -> tuple[Submission | None, list[Problem]]:
    """Read and check one file's bytes with the default limits (and `max_bytes`); never raises for bad content."""
    limits = dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=max_bytes)
    outcome = read_file(file_name, data, ctx, limits, received_at=received_at)
    return outcome.submission, outcome.problems


def quarantine(data: bytes | None, received: ReceivedFile, problems: list[Problem], quarantine_dir: Path) -> Path:
    """Copy a rejected file with a `.reason.json` beside it (code, message, every problem).

    Without `data` (an entry that is no regular file, or a file too large to hold in memory), only
    the reason is written here; a too large file's copy is hard-linked from the archive.
    """
    prefix = received.sha256[:16] if received.sha256 else "not-a-file"
    stem = f"{prefix}_{re.sub(r'[^A-Za-z0-9._-]', '_', received.file_name)[:100]}"
    path = quarantine_dir / stem
    if data is not None:
        _write_once(path, data)
    elif received.archive_path and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(received.archive_path, path)
        except OSError:
            shutil.copyfile(received.archive_path, path)
    reason = {
        "file": received.file_name,
        "sha256": received.sha256,
        "received_at": received.received_at.isoformat(),
        "reason_code": problems[0].code,
        "message": "; ".join(p.message for p in problems),
        "problems": [p.as_dict() for p in problems],
    }
    _write_once(quarantine_dir / f"{stem}.reason.json", json.dumps(reason, indent=2).encode())
    return path


@dataclass(frozen=True)
class _Delivered:
    """A landing entry opened safely: the bytes of a regular file (None when over the size limit)."""

    path: Path
    name: str  # display_name of the entry: what tables, logs and reports show
    sha256: str | None
    size: int
    data: bytes | None
    not_a_file: str | None = None  # what the entry is instead (a symbolic link, a folder, ...)
    file_name: str = ""  # the name it was delivered under (readers look at its suffix)


def _open_entry(path: Path, limits: IntakeLimits) -> _Delivered:
    """Read a regular file without following links or blocking on pipes; hash files too large to hold."""
    name = display_name(path.name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        kind = "a symbolic link" if path.is_symlink() else "not readable"
        return _Delivered(path, name, None, 0, None, kind)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        return _Delivered(path, name, None, 0, None, kind)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limits.max_file_bytes + 1)
        if len(data) <= limits.max_file_bytes:
            return _Delivered(path, name, sha256_of(data), len(data), data)
        digest = hashlib.sha256(data)
        size = len(data)
        while block := handle.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
        return _Delivered(path, name, digest.hexdigest(), size, None)


def _archive_large(path: Path, digest: str, archive_dir: Path) -> Path:
    """Archive a file too large to hold in memory by copying it in blocks."""
    target = archive_dir / digest[:2] / f"{digest}{safe_suffix(path.name)}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            source_fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # never a link swapped in since it was hashed
            with os.fdopen(fd, "wb") as out, os.fdopen(source_fd, "rb") as source:
                shutil.copyfileobj(source, out, READ_BLOCK)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


def take_in_cycle(
    landing_dir: Path,
    archive_dir: Path,
    quarantine_dir: Path,
    ctx: ValidationContext,
    previously_received: Mapping[tuple[str, str], dt.datetime],
    now: dt.datetime,
    limits: IntakeLimits = DEFAULT_LIMITS,
    archived_earlier: Mapping[tuple[str, str], str] | None = None,
) -> IntakeResult:
    """Archive, read and check every file of a cycle's landing folder.

    `previously_received` maps (sha256, file name) to when that file version was first seen, so
    that the receipt time of a file never changes on later runs. Files are taken in the order
    they were first received (then by name): a file with the bytes of an earlier one is a
    duplicate, recorded but not read again. Entries that are no regular files (links, folders)
    are rejected without being followed.

    `archived_earlier` maps (sha256, file name) of versions received on earlier runs to their
    archived copy: a version no longer in the landing folder is read from the archive, so that a
    file removed from landing never silently takes a submission version out of the record.
    """
    result = IntakeResult()
    delivered: list[tuple[ReceivedFile, _Delivered]] = []
    for path in landing_entries(landing_dir):
        entry = _open_entry(path, limits)
        if entry.sha256 is None:
            received = ReceivedFile(None, entry.name, 0, now, None)
            problem = Problem(
                "not_a_regular_file",
                f"{entry.name!r} is {entry.not_a_file}, not a file; put the file itself in the landing folder",
            )
            where = quarantine(None, received, [problem], quarantine_dir)
            member = file_name_member(entry.name, ctx.known_members)
            result.rejected.append(Rejection(received, [problem], str(where), member))
            continue
        if entry.data is not None:
            archived = archive_bytes(entry.data, archive_dir, path.name)
        else:
            archived = _archive_large(path, entry.sha256, archive_dir)
        received = ReceivedFile(
            sha256=entry.sha256,
            file_name=entry.name,
            size_bytes=entry.size,
            received_at=previously_received.get((entry.sha256, entry.name), now),
            archive_path=str(archived),
        )
        result.received.append(received)
        delivered.append((received, dataclasses.replace(entry, file_name=path.name)))

    in_landing = {(r.sha256, r.file_name) for r, _ in delivered}
    for (digest, name), archive_path in sorted((archived_earlier or {}).items()):
        archived_copy = Path(archive_path)
        if (digest, name) in in_landing or not archived_copy.is_file():
            continue
        size = archived_copy.stat().st_size
        data = archived_copy.read_bytes() if size <= limits.max_file_bytes else None
        received = ReceivedFile(digest, name, size, previously_received.get((digest, name), now), archive_path)
        result.received.append(received)
        delivered.append((received, _Delivered(archived_copy, name, digest, size, data, file_name=name)))

    first_of: dict[str, ReceivedFile] = {}
    for received, entry in sorted(delivered, key=lambda d: (d[0].received_at, d[0].file_name)):
        if received.sha256 in first_of and entry.size > 0:  # two empty files are two empty files, not a copy
            member = file_name_member(received.file_name, ctx.known_members)
            result.duplicates.append(Duplicate(received, first_of[received.sha256], member))
            continue  # the same bytes under another name: one submission version, not two
        first_of[received.sha256] = received
        if entry.data is None:
            message = f"the file has {entry.size} bytes, over the limit of {limits.max_file_bytes}"
            outcome = ReadOutcome(None, [Problem("file_too_large", message)], file_name_member(entry.name, ctx.known_members))
        else:
            outcome = read_file(entry.file_name, entry.data, ctx, limits)
        if outcome.submission is None:
            where = quarantine(entry.data, received, outcome.problems, quarantine_dir)
            result.rejected.append(Rejection(received, outcome.problems, str(where), outcome.member_code))
        else:
            result.accepted.append(Accepted(received, outcome.submission))
    return result


def _sent_by(contact: Mapping[str, str]) -> str | None:
    """`Name <e-mail>` of the contact person a questionnaire names, or what of it is given."""
    name, email = contact.get("contact_name"), contact.get("contact_email")
    if name and email:
        return f"{name} <{email}>"
    return name or email


def intake_frames(
    result: IntakeResult, cycle: str, deadline: InputDeadline | None = None
) -> dict[str, pd.DataFrame]:
    """The raw tables' rows for a cycle: received files, submission versions, answers, choices, rejections.

    With the cycle's `deadline`, versions first seen after the inputs were frozen are kept but
    not used (see ingestion/freeze.py).
    """
    accepted_hashes = {a.received.sha256 for a in result.accepted}
    rejected_hashes = {r.received.sha256 for r in result.rejected}
    duplicates = {(d.received.sha256, d.received.file_name) for d in result.duplicates}

    def outcome(r: ReceivedFile) -> str:
        if (r.sha256, r.file_name) in duplicates:
            return "duplicate"
        return "accepted" if r.sha256 in accepted_hashes else "rejected" if r.sha256 in rejected_hashes else "unread"

    received = pd.DataFrame(
        [
            {"cycle": cycle, **{k: getattr(r, k) for k in ("sha256", "file_name", "size_bytes", "received_at", "archive_path")}, "outcome": outcome(r)}
            for r in result.received
        ],
        columns=RECEIVED_FILES.column_names,
    )

    ordered = sorted(
        result.accepted,
        key=lambda a: (a.submission.member_code, a.submission.submitted_at, a.received.received_at, a.received.sha256),
    )
    versions: dict[str, int] = {}
    submission_rows, answer_rows, choice_rows = [], [], []
    for a in ordered:
        s = a.submission
        versions[s.member_code] = versions.get(s.member_code, 0) + 1
        submission_rows.append(
            {
                "cycle": cycle,
                "submission_id": a.received.sha256,
                "member_code": s.member_code,
                "submitted_at": s.submitted_at,
                "received_at": a.received.received_at,
                "file_name": a.received.file_name,
                "format": s.format,
                "archive_path": a.received.archive_path,
                "n_answers": len(s.answers),
                "sent_by": _sent_by(s.contact),
                "version": versions[s.member_code],
            }
        )
        for ans in s.answers:
            answer_rows.append(
                {
                    "cycle": cycle,
                    "submission_id": a.received.sha256,
                    "member_code": s.member_code,
                    "item": ans.item,
                    "year": ans.year,
                    "value": ans.value,
                    "value_text": ans.value_text,
                    "status": ans.status,
                    "comment": ans.comment,
                    "source_file": a.received.file_name,
                    "source_pointer": ans.location.pointer,
                    "source_sheet": ans.location.sheet,
                    "source_cell": ans.location.cell,
                    "source_line": ans.location.line,
                }
            )
        for kpi_id, level in sorted(s.disclosure.items()):
            choice_rows.append(
                {"cycle": cycle, "submission_id": a.received.sha256, "member_code": s.member_code, "kpi_id": kpi_id, "disclosure": level}
            )
    submissions = mark_versions_in_use(
        pd.DataFrame(submission_rows, columns=[c for c in SUBMISSIONS.column_names if c not in VERSION_USE_COLUMNS]),
        first_intake_at=min((r.received_at for r in result.received), default=None),
        deadline=deadline,
    )

    rejection_rows = [
        {
            "cycle": cycle,
            "sha256": r.received.sha256,
            "file_name": r.received.file_name,
            "received_at": r.received.received_at,
            "reason_code": r.reason_code,
            "message": r.message,
            "problems": json.dumps([p.as_dict() for p in r.problems]),
            "quarantine_path": r.quarantine_path,
            "member_code": r.member_code,
        }
        for r in result.rejected
    ]
    for d in result.duplicates:
        # Recorded so that the sender hears of it; the bytes are those of the original, already archived.
        problem = Problem(
            "duplicate_file",
            f"exactly the same bytes as {d.original.file_name}, received {d.original.received_at:%Y-%m-%d %H:%M} UTC;"
            " it was not read again",
        )
        rejection_rows.append(
            {
                "cycle": cycle,
                "sha256": d.received.sha256,
                "file_name": d.received.file_name,
                "received_at": d.received.received_at,
                "reason_code": problem.code,
                "message": problem.message,
                "problems": json.dumps([problem.as_dict()]),
                "quarantine_path": None,
                "member_code": d.member_code,
            }
        )
    rejections = pd.DataFrame(rejection_rows, columns=REJECTIONS.column_names)
    return {
        "received_files": received,
        "submissions": submissions,
        "answers": pd.DataFrame(answer_rows, columns=RAW_ANSWERS.column_names).astype(
            {"value": "float64", "year": "int64", "source_line": "Int64"}
        ),
        "disclosure_choices": pd.DataFrame(choice_rows, columns=RAW_DISCLOSURE.column_names),
        "rejections": rejections,
    }

