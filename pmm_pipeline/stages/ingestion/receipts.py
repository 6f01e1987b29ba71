"""The receipt ledger: when each file version of a cycle was first seen, kept beside the archive.

`archive/receipts/<cycle>.jsonl` is append-only and flushed to disk before the raw tables are written.
Its first line records the cycle's first intake; each later line is a receipt: a file version (SHA-256
and file name) with when it was first seen, its size and archived copy, and what its content said when
it was read (member, submitted_at, outcome, answers, format). A version is received once: its first
line fixes its receipt time for good; a later line for the same version only updates what was read
(e.g. the catalogue changed and a file once rejected is now accepted).

Each line carries `chain`, the SHA-256 of the chain before it and of its own content: a line edited in
place (a receipt time changed, a member renamed), removed or inserted breaks the chain at that line, and
reading the ledger stops with an error naming it, also when no warehouse is there to compare it with.
Lines written before the chain existed are read as they are, but only before the first chained line.

The freeze of a cycle (which versions came too late) and the order of versions derive from these
receipt times and contents, so a warehouse rebuilt from the archive and this ledger reproduces the same
versions, the same frozen-out files and the same releases. The warehouse's raw.received_files is read
only to bring receipts of a warehouse older than the ledger into it.
"""

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pmm_pipeline.core.errors import ArchiveIntegrityError
from pmm_pipeline.core.files import append_durably
from pmm_pipeline.warehouse.tables import RECEIVED_FILES, REJECTIONS, SUBMISSIONS

LEDGER_FORMAT = "pmm-receipts"
_SHA = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Receipt:
    """One file version received for a cycle (sha256 None for a landing entry that is no regular file)."""

    sha256: str | None
    file_name: str
    size_bytes: int
    received_at: dt.datetime
    archive_path: str | None  # relative to the archive folder, posix separators
    outcome: str | None = None  # accepted, rejected or duplicate when last read
    member_code: str | None = None  # the member its content names (None when it names no known member)
    submitted_at: dt.datetime | None = None  # as its content states it, when accepted
    n_answers: int | None = None
    format: str | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.sha256, self.file_name)

    @property
    def facts(self) -> tuple:
        """What reading the content found: the part of a receipt that a later reading may update."""
        return (self.outcome, self.member_code, self.submitted_at, self.n_answers, self.format)


@dataclass
class LedgerState:
    first_intake_at: dt.datetime | None = None
    receipts: dict[tuple[str | None, str], Receipt] = field(default_factory=dict)
    chain: str = ""  # the `chain` of the last line read: the next line appended follows it


def _link(previous: str, line: Mapping) -> str:
    """The chain value of `line` after `previous`: its content (without `chain`) hashed with the chain before."""
    content = json.dumps({k: v for k, v in line.items() if k != "chain"}, ensure_ascii=True, sort_keys=True)
    return hashlib.sha256(f"{previous}\n{content}".encode("ascii")).hexdigest()


def _chained(previous: str, line: dict) -> tuple[bytes, str]:
    link = _link(previous, line)
    # ensure_ascii: a name holding a lone surrogate is written as an escape, never as bytes that are not UTF-8.
    return json.dumps({**line, "chain": link}, ensure_ascii=True, sort_keys=True).encode("ascii") + b"\n", link


def ledger_path(archive_dir: Path, cycle: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", cycle):
        raise ValueError(f"cycle id {cycle!r} cannot name a receipt ledger")
    return archive_dir / "receipts" / f"{cycle}.jsonl"


def _time(text: object) -> dt.datetime | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError("a receipt time without time zone")
    return moment


def _receipt_from_line(line: dict) -> Receipt:
    sha = line.get("sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA.fullmatch(sha)):
        raise ValueError("sha256 is not a SHA-256")
    if not isinstance(line.get("file_name"), str) or not isinstance(line.get("size_bytes"), int):
        raise ValueError("file_name or size_bytes missing")
    n_answers = line.get("n_answers")
    return Receipt(
        sha256=sha,
        file_name=line["file_name"],
        size_bytes=line["size_bytes"],
        received_at=_time(line["received_at"]),
        archive_path=line.get("archive_path"),
        outcome=line.get("outcome"),
        member_code=line.get("member_code"),
        submitted_at=_time(line.get("submitted_at")),
        n_answers=n_answers if isinstance(n_answers, int) else None,
        format=line.get("file_format"),
    )


def read_ledger(path: Path) -> LedgerState:
    """The ledger's receipts; a last line without its line feed (a crash cut it) is ignored, other damage raises.

    A damaged line in the middle, or one whose chain does not follow from the lines before it, is an
    ArchiveIntegrityError: receipt times and the freeze would otherwise change silently.
    """
    state = LedgerState()
    if not path.exists():
        return state
    raw = path.read_bytes()
    # The last piece has no line feed: the torn end of an append a crash interrupted, even when it parses (the
    # next append cuts it off, so nothing may follow from it).
    lines = raw.split(b"\n")[:-1]
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            if not isinstance(line, dict) or line.get("format") != LEDGER_FORMAT:
                raise ValueError("not a receipt line")
            if "chain" in line:
                if line["chain"] != _link(state.chain, line):
                    raise ValueError(
                        "its chain does not follow from the lines before it: a line was edited, removed or inserted"
                    )
                state.chain = line["chain"]
            elif state.chain:
                raise ValueError("it has no chain, after lines that have one")
            if line.get("kind") == "first_intake":
                state.first_intake_at = state.first_intake_at or _time(line["at"])
                continue
            receipt = _receipt_from_line(line)
        except (ValueError, KeyError, TypeError) as err:
            raise ArchiveIntegrityError(
                f"receipt ledger {path}, line {number}, is damaged ({err}); restore the file from a backup"
            ) from None
        earlier = state.receipts.get(receipt.key)
        # The first line of a version fixes when it was received and where it is kept; later ones what was read.
        state.receipts[receipt.key] = (
            receipt
            if earlier is None
            else replace(
                earlier,
                outcome=receipt.outcome,
                member_code=receipt.member_code,
                submitted_at=receipt.submitted_at,
                n_answers=receipt.n_answers,
                format=receipt.format,
            )
        )
    return state


def receipt_line(receipt: Receipt) -> dict:
    return {
        "format": LEDGER_FORMAT,
        "kind": "receipt",
        "sha256": receipt.sha256,
        "file_name": receipt.file_name,
        "size_bytes": receipt.size_bytes,
        "received_at": receipt.received_at.isoformat(),
        "archive_path": receipt.archive_path,
        "outcome": receipt.outcome,
        "member_code": receipt.member_code,
        "submitted_at": receipt.submitted_at.isoformat() if receipt.submitted_at else None,
        "n_answers": receipt.n_answers,
        "file_format": receipt.format,
    }


def ledger_updates(state: LedgerState, receipts: Iterable[Receipt], first_intake_at: dt.datetime) -> list[bytes]:
    """The lines to append: the first intake if not on record, new versions, and changed readings."""
    lines = []
    chain = state.chain
    if state.first_intake_at is None:
        line, chain = _chained(
            chain, {"format": LEDGER_FORMAT, "kind": "first_intake", "at": first_intake_at.isoformat()}
        )
        lines.append(line)
    seen = dict(state.receipts)
    for receipt in receipts:
        known = seen.get(receipt.key)
        if known is None or known.facts != receipt.facts:
            line, chain = _chained(chain, receipt_line(receipt))
            lines.append(line)
            seen[receipt.key] = receipt
    return lines


def append_to_ledger(path: Path, lines: list[bytes]) -> None:
    """Append lines durably; a last line torn by a crash (never completed, so never relied on) is cut off first."""
    if not lines:
        return
    if path.exists():
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            os.truncate(path, raw.rfind(b"\n") + 1)
    append_durably(path, b"".join(lines))


def _missing(value: object) -> bool:
    try:
        return value is None or bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def receipts_from_warehouse(rows: Iterable[Mapping], relative_archive_path) -> dict[tuple[str | None, str], Receipt]:
    """Receipts of a warehouse written before the ledger existed (raw.received_files joined to raw.submissions)."""
    receipts = {}
    for row in rows:
        row = {k: (None if _missing(v) else v) for k, v in dict(row).items()}
        sha = row["sha256"]
        if not sha:
            continue
        receipt = Receipt(
            sha256=sha,
            file_name=row["file_name"],
            size_bytes=int(row["size_bytes"] or 0),
            received_at=row["received_at"],
            archive_path=relative_archive_path(sha, row["file_name"], row.get("archive_path")),
            outcome=row.get("outcome"),
            member_code=row.get("member_code"),
            submitted_at=row.get("submitted_at"),
            n_answers=int(row["n_answers"]) if row.get("n_answers") is not None else None,
            format=row.get("format"),
        )
        receipts.setdefault(receipt.key, receipt)
    return receipts


# Receipts of a warehouse older than the ledger: every archived file version with what was read of it.
WAREHOUSE_RECEIPTS_SQL = f"""
SELECT f.sha256, f.file_name, f.size_bytes, f.received_at, f.archive_path, f.outcome,
       coalesce(s.member_code, r.member_code) AS member_code, s.submitted_at, s.n_answers, s.format
FROM {RECEIVED_FILES.qualified} AS f
LEFT JOIN {SUBMISSIONS.qualified} AS s ON s.cycle = f.cycle AND s.submission_id = f.sha256 AND s.file_name = f.file_name
LEFT JOIN {REJECTIONS.qualified} AS r ON r.cycle = f.cycle AND r.sha256 = f.sha256 AND r.file_name = f.file_name
WHERE f.cycle = ? AND f.sha256 IS NOT NULL AND f.archive_path IS NOT NULL
ORDER BY f.received_at, f.file_name
"""


def _same_moment(a: object, b: dt.datetime) -> bool:
    try:
        return a is not None and abs((a - b).total_seconds()) < 1e-6
    except (TypeError, ValueError):
        return False


def check_ledger_covers_warehouse(state: LedgerState, warehouse_rows: Iterable[Mapping], path: Path) -> None:
    """Raise if the warehouse holds a receipt that the ledger lacks or dates otherwise.

    The ledger is appended (durably) before the raw tables are written, so every archived version in
    raw.received_files is in the ledger with the same receipt time, whatever was killed when. A ledger
    that lacks one was damaged after the fact: its end cut (read_ledger takes a cut last line for an
    append a crash tore), a line removed, a receipt time changed, or the file restored from an older
    backup. Used as it is, it would let a version leave the record, or be received anew and frozen
    out, without a word: the intake stops instead, naming the ledger and the files.
    """
    if state.first_intake_at is None and not state.receipts:
        return  # no ledger yet: the warehouse's receipts are taken over (record_for_intake)
    wrong = []
    for row in warehouse_rows:
        row = {k: (None if _missing(v) else v) for k, v in dict(row).items()}
        if not row.get("sha256"):
            continue
        receipt = state.receipts.get((row["sha256"], row["file_name"]))
        if receipt is None:
            wrong.append(f"{row['file_name']!r} (sha256 {row['sha256']}) is not in it")
        elif not _same_moment(row.get("received_at"), receipt.received_at):
            wrong.append(
                f"{row['file_name']!r} (sha256 {row['sha256']}) was received at {row.get('received_at')}, the"
                f" ledger says {receipt.received_at.isoformat()}"
            )
    if wrong:
        shown = "; ".join(wrong[:10]) + (f"; and {len(wrong) - 10} more" if len(wrong) > 10 else "")
        raise ArchiveIntegrityError(
            f"receipt ledger {path} disagrees with the warehouse's raw.received_files: {shown}. The ledger was"
            " cut short, edited or restored from an older backup. Restore it from a backup; or, if the warehouse"
            " is right, move the ledger aside and the next run takes the warehouse's receipts over"
        )


def record_for_intake(
    state: LedgerState, warehouse_rows: Iterable[Mapping], archive_dir: Path
) -> tuple[dict[tuple[str | None, str], Receipt], list[Receipt], dt.datetime | None]:
    """The receipts an intake starts from, those to bring into the ledger, and the cycle's first intake.

    The ledger is the record. Only when there is no ledger yet (a warehouse made before it) are the
    warehouse's receipts taken over, once, with the earliest of them as the first intake.
    """
    if state.first_intake_at is not None or state.receipts:
        first = state.first_intake_at or min(r.received_at for r in state.receipts.values())
        return dict(state.receipts), [], first

    def relative(sha: str, name: str, path: object) -> str:
        from pmm_pipeline.stages.ingestion.archive import locate_copy

        try:
            return Path(str(path)).relative_to(archive_dir).as_posix()
        except ValueError:  # the data folder moved since: the copy is where its hash puts it
            return locate_copy(archive_dir, sha, name).relative_to(archive_dir).as_posix()

    migrated = receipts_from_warehouse(warehouse_rows, relative)
    first = min((r.received_at for r in migrated.values()), default=None)
    return migrated, list(migrated.values()), first
