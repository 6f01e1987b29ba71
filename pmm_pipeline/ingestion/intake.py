"""Taking in a cycle's landing folder: archive every file by hash, read and check it, quarantine rejects.

Nothing in the landing folder is modified. Every file is copied to the content-addressed archive
first, so that it is kept whatever happens next; then it is read from memory, checked, and either
becomes a submission version or goes to quarantine with a machine-readable reason.
"""

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmm_pipeline.ingestion.json_reader import read_json_submission
from pmm_pipeline.ingestion.submission import ParsedSubmission, Problem, RejectedFile, Submission
from pmm_pipeline.ingestion.validate import ValidationContext, validate_submission
from pmm_pipeline.tables import RAW_ANSWERS, RAW_DISCLOSURE, RECEIVED_FILES, REJECTIONS, SUBMISSIONS

Reader = Callable[[bytes], ParsedSubmission]
READERS: dict[str, Reader] = {".json": read_json_submission}
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedFile:
    """One file version seen in the landing folder (a file name and the hash of its bytes)."""

    sha256: str
    file_name: str
    size_bytes: int
    received_at: dt.datetime
    archive_path: str


@dataclass(frozen=True)
class Rejection:
    received: ReceivedFile
    problems: list[Problem]
    quarantine_path: str

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


@dataclass
class IntakeResult:
    received: list[ReceivedFile] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_once(path: Path, data: bytes) -> None:
    """Write a file atomically unless it exists (archive and quarantine copies never change)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_suffix(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def archive_bytes(data: bytes, archive_dir: Path, file_name: str) -> Path:
    """Store the bytes at `archive/<sha[:2]>/<sha><suffix>`; an identical file is stored once."""
    digest = sha256_of(data)
    path = archive_dir / digest[:2] / f"{digest}{safe_suffix(file_name)}"
    _write_once(path, data)
    return path


def landing_files(landing_dir: Path) -> list[Path]:
    """Regular files delivered to the landing folder, in name order (hidden and temp files skipped)."""
    if not landing_dir.is_dir():
        return []
    return sorted(
        p
        for p in landing_dir.iterdir()
        if not p.name.startswith((".", "~$")) and p.is_file() and not p.is_symlink()
    )


def read_submission(
    file_name: str, data: bytes, ctx: ValidationContext, max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> tuple[Submission | None, list[Problem]]:
    """Read and check one file's bytes; never raises for bad content."""
    if not data:
        return None, [Problem("empty_file", "the file is empty")]
    if len(data) > max_bytes:
        return None, [Problem("file_too_large", f"the file has {len(data)} bytes, over the limit of {max_bytes}")]
    reader = READERS.get(Path(file_name).suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        return None, [Problem("unsupported_format", f"files ending {Path(file_name).suffix or '(none)'} are not read; send {known}")]
    try:
        parsed = reader(data)
    except RejectedFile as rejected:
        return None, [rejected.problem]
    return validate_submission(parsed, ctx)


def quarantine(data: bytes, received: ReceivedFile, problems: list[Problem], quarantine_dir: Path) -> Path:
    """Copy a rejected file with a `.reason.json` beside it (code, message, every problem)."""
    stem = f"{received.sha256[:16]}_{re.sub(r'[^A-Za-z0-9._-]', '_', received.file_name)[:100]}"
    path = quarantine_dir / stem
    _write_once(path, data)
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


def take_in_cycle(
    landing_dir: Path,
    archive_dir: Path,
    quarantine_dir: Path,
    ctx: ValidationContext,
    previously_received: Mapping[tuple[str, str], dt.datetime],
    now: dt.datetime,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> IntakeResult:
    """Archive, read and check every file of a cycle's landing folder.

    `previously_received` maps (sha256, file name) to when that file version was first seen, so
    that the receipt time of a file never changes on later runs.
    """
    result = IntakeResult()
    seen_hashes: set[str] = set()
    for path in landing_files(landing_dir):
        data = path.read_bytes()
        digest = sha256_of(data)
        archived = archive_bytes(data, archive_dir, path.name)
        received = ReceivedFile(
            sha256=digest,
            file_name=path.name,
            size_bytes=len(data),
            received_at=previously_received.get((digest, path.name), now),
            archive_path=str(archived),
        )
        result.received.append(received)
        if digest in seen_hashes:
            continue  # the same bytes under another name: one submission version, not two
        seen_hashes.add(digest)
        submission, problems = read_submission(path.name, data, ctx, max_bytes)
        if submission is None:
            where = quarantine(data, received, problems, quarantine_dir)
            result.rejected.append(Rejection(received, problems, str(where)))
        else:
            result.accepted.append(Accepted(received, submission))
    return result


def intake_frames(result: IntakeResult, cycle: str) -> dict[str, pd.DataFrame]:
    """The raw tables' rows for a cycle: received files, submission versions, answers, choices, rejections."""
    accepted_hashes = {a.received.sha256 for a in result.accepted}
    rejected_hashes = {r.received.sha256 for r in result.rejected}
    first_name: dict[str, str] = {}
    for r in result.received:
        first_name.setdefault(r.sha256, r.file_name)

    def outcome(r: ReceivedFile) -> str:
        if first_name[r.sha256] != r.file_name:
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
    submissions = pd.DataFrame(submission_rows, columns=SUBMISSIONS.column_names[:-1])
    submissions["is_latest"] = submissions["version"] == submissions["member_code"].map(versions)

    rejections = pd.DataFrame(
        [
            {
                "cycle": cycle,
                "sha256": r.received.sha256,
                "file_name": r.received.file_name,
                "received_at": r.received.received_at,
                "reason_code": r.reason_code,
                "message": r.message,
                "problems": json.dumps([p.as_dict() for p in r.problems]),
                "quarantine_path": r.quarantine_path,
            }
            for r in result.rejected
        ],
        columns=REJECTIONS.column_names,
    )
    return {
        "received_files": received,
        "submissions": submissions,
        "answers": pd.DataFrame(answer_rows, columns=RAW_ANSWERS.column_names).astype(
            {"value": "float64", "year": "int64", "source_line": "Int64"}
        ),
        "disclosure_choices": pd.DataFrame(choice_rows, columns=RAW_DISCLOSURE.column_names),
        "rejections": rejections,
    }

