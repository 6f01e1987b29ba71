"""Arrival notes: how the intake learns who sent a file through the platform, and when the platform received it.

A file copied into landing/<cycle>/ by hand says nothing trustworthy about its sender: its own `member` and
`submitted_at` are all there is. A file the platform delivers is known better: the account that sent it, the
member that account is bound to, and the moment the platform received it. The platform writes these down in an
arrival note BEFORE the file appears in landing (stages/delivery/), one JSON line per delivered file in
`archive/deliveries/<cycle>.jsonl`, appended under the cycle's delivery lock and flushed to disk. The intake reads
the notes after listing the landing folder, so every platform file it lists has its note on disk already.

A note is keyed by the SHA-256 of the file's bytes and the name it was placed under: a landing file whose bytes
do not hash to its note's SHA-256 (replaced by hand after delivery) is taken as a hand-copied file and the note
is ignored for it (and logged); the noted version itself is still taken in from its archived copy, so nothing
the platform received is lost, even a file removed from landing before any run.

For a file with a note, the platform's rules apply on top of the intake's own checks, in the same code for the
platform's verdict and for the intake (see `platform_problems`): `cycle_closed` (received outside the collection
window and any reopening) and `wrong_member` (an NCP's file names another member). Its `submitted_at` is the
receipt time, never the time the file states (a file dated 2099 cannot outrank later corrections).
"""

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmm_pipeline.core.files import append_durably
from pmm_pipeline.core.vocabulary import CHANNELS, PLATFORM_REASON_CODES
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.ingestion.receipts import ledger_path
from pmm_pipeline.stages.ingestion.submission import Problem

NOTE_FORMAT = "pmm-arrival"
LANDING, PLATFORM = CHANNELS
# The reason codes only the platform can give: the intake alone cannot know the account or the receipt time.
CYCLE_CLOSED, WRONG_MEMBER = PLATFORM_REASON_CODES
_MAX_NOTE_LINE = 4 * 1024 * 1024  # a note holds at most a few hundred bounded problems; more is not ours


@dataclass(frozen=True)
class Arrival:
    """What the platform knew of one file it delivered (one line of the arrival notes)."""

    sha256: str
    landing_name: str  # the name the file was placed under in landing/<cycle>/
    received_at: dt.datetime  # UTC: when the platform received it; the version's receipt and submission time
    account: str  # the login of the account that sent it
    member: str | None  # the member the account is bound to (an NCP); None for the Secretariat
    uploaded_as: str = ""  # the file name the sender gave (display only: never used as a path)
    size_bytes: int = 0
    channel: str = PLATFORM
    verdict: Mapping[str, Any] = field(default_factory=dict)  # what the platform showed (member_versions)

    @property
    def key(self) -> tuple[str, str]:
        return (self.sha256, self.landing_name)

    def as_line(self) -> bytes:
        line = {
            "format": NOTE_FORMAT,
            "sha256": self.sha256,
            "landing_name": self.landing_name,
            "received_at": self.received_at.astimezone(dt.UTC).isoformat(),
            "account": self.account,
            "member": self.member,
            "uploaded_as": self.uploaded_as,
            "size_bytes": self.size_bytes,
            "channel": self.channel,
            "verdict": dict(self.verdict),
        }
        # ensure_ascii: whatever a sender typed is stored as escapes, never as bytes that are not UTF-8.
        return json.dumps(line, ensure_ascii=True, sort_keys=True).encode("ascii") + b"\n"


def _arrival_from(line: Mapping[str, Any]) -> Arrival:
    if line.get("format") != NOTE_FORMAT:
        raise ValueError("not an arrival note")
    sha, name, account = line.get("sha256"), line.get("landing_name"), line.get("account")
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise ValueError("sha256 is not a SHA-256")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ValueError("landing_name is not a landing file name")
    if not isinstance(account, str) or not account:
        raise ValueError("account missing")
    received_at = dt.datetime.fromisoformat(str(line.get("received_at")))
    if received_at.tzinfo is None:
        raise ValueError("received_at without time zone")
    member = line.get("member")
    verdict = line.get("verdict")
    return Arrival(
        sha256=sha,
        landing_name=name,
        received_at=received_at.astimezone(dt.UTC),
        account=account,
        member=member if isinstance(member, str) else None,
        uploaded_as=str(line.get("uploaded_as") or ""),
        size_bytes=int(line.get("size_bytes") or 0),
        channel=PLATFORM,
        verdict=verdict if isinstance(verdict, dict) else {},
    )


@dataclass
class ArrivalBook:
    """The arrival notes of one cycle, keyed by (sha256, landing name), with what could not be read."""

    notes: dict[tuple[str, str], Arrival] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # operator log lines: damaged or foreign lines

    def get(self, sha256: str | None, name: str) -> Arrival | None:
        return self.notes.get((sha256, name)) if sha256 else None

    def names(self) -> dict[str, Arrival]:
        return {a.landing_name: a for a in self.notes.values()}

    def mismatch(self, sha256: str | None, name: str) -> str | None:
        """The log line for a landing file whose name has a note for other bytes (it is taken as hand-copied)."""
        noted = self.names().get(name)
        if noted is None or noted.sha256 == sha256:
            return None
        return (
            f"arrival note for {name} names sha256 {noted.sha256} but the file hashes to {sha256}: the note is"
            " ignored for it (taken in as a file copied by hand); the noted version is taken from its archived copy"
        )


def notes_path(archive_dir: Path, cycle: str) -> Path:
    # Beside the receipt ledger, under the same rule for what a cycle id may be.
    return ledger_path(archive_dir, cycle).parent.parent / "deliveries" / f"{cycle}.jsonl"


def read_arrivals(path: Path) -> ArrivalBook:
    """Every readable note; a damaged line is skipped and reported (a torn last line is an append cut short).

    A note that cannot be read leaves its file to be taken as a hand-copied one: recorded all the same,
    only without account and with the intake's receipt time; the log line says which.
    """
    book = ArrivalBook()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return book
    lines = raw.split(b"\n")
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            if len(text) > _MAX_NOTE_LINE:
                raise ValueError("line too long")
            line = json.loads(text)
            if not isinstance(line, dict):
                raise ValueError("not an object")
            arrival = _arrival_from(line)
        except (ValueError, TypeError, OverflowError) as err:
            if number == len(lines):  # no final newline: an append cut short by a crash, its file never placed
                break
            book.unreadable.append(f"arrival notes {path}, line {number}, cannot be read ({err}): skipped")
            continue
        book.notes.setdefault(arrival.key, arrival)  # the first note of a version stands (it is never rewritten)
    return book


def append_arrival(path: Path, arrival: Arrival) -> None:
    """Append one note durably (callers hold the cycle's delivery lock: one writer at a time)."""
    append_durably(path, arrival.as_line())


@contextlib.contextmanager
def delivery_lock(archive_dir: Path, cycle: str) -> Iterator[None]:
    """The cycle's delivery lock (fcntl, across threads and processes): versions and notes are decided one at a time.

    flock locks belong to the open file description, so every caller opens its own: two threads of one process
    exclude each other as two processes do.
    """
    path = notes_path(archive_dir, cycle).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def accepts_uploads(cycle: Cycle, timezone: dt.tzinfo, at: dt.datetime) -> bool:
    """True when `at` falls in the cycle's collection window or its reopening (days in the calendar's zone)."""
    if at.tzinfo is None:
        raise ValueError("a receipt time must carry its time zone (UTC)")
    return cycle.is_collecting_on(at.astimezone(timezone).date())


def platform_problems(arrival: Arrival, content_member: str | None, cycle: Cycle, timezone: dt.tzinfo) -> list[Problem]:
    """The platform's own reasons to refuse a file it received, before the file's own problems.

    Shared by the platform's verdict and the intake, so that both say the same of the same note and bytes.
    """
    problems = []
    if not accepts_uploads(cycle, timezone, arrival.received_at):
        last = cycle.last_collection_day
        problems.append(
            Problem(
                CYCLE_CLOSED,
                f"cycle {cycle.id} takes uploads from {cycle.collection.opens} to {last}; the file was received on"
                f" {arrival.received_at.astimezone(timezone).date()}, outside that window",
            )
        )
    if arrival.member is not None and content_member is not None and content_member != arrival.member:
        problems.append(
            Problem(
                WRONG_MEMBER,
                f"the file is a submission of {content_member}, but account {arrival.account} sends for"
                f" {arrival.member} only",
            )
        )
    return problems
