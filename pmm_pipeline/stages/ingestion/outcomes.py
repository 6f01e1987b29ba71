"""What the intake makes of each file version it takes in, and of a whole run: the `IntakeResult`.

A version is received (`ReceivedFile`), then accepted (`Accepted`), rejected (`Rejection`), a duplicate of an
earlier file's bytes (`Duplicate`), or on record with a damaged archived copy (`DamagedCopy`). The raw tables
(stages/ingestion/raw_tables.py) and the platform's verdict (stages/delivery/) are built from these.
"""

import datetime as dt
from dataclasses import dataclass, field

from pmm_pipeline.stages.ingestion.archive import DamagedCopyError
from pmm_pipeline.stages.ingestion.arrivals import LANDING, Arrival
from pmm_pipeline.stages.ingestion.problem_lists import problems_message
from pmm_pipeline.stages.ingestion.receipts import Receipt
from pmm_pipeline.stages.ingestion.submission import Problem, Submission
from pmm_pipeline.stages.ingestion.text import storable_text


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
    # How it came: `landing` (copied into the folder) or `platform` (delivered by the member platform, with the
    # account that sent it; its arrival note fixes received_at).
    channel: str = LANDING
    account: str | None = None
    arrival: Arrival | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Rejection:
    received: ReceivedFile  # sha256 and archive_path are None for a landing entry that is no regular file
    problems: list[Problem]
    quarantine_path: str | None
    member_code: str | None = None  # who sent it, when its content says

    @property
    def reason_code(self) -> str:
        return self.problems[0].code

    @property
    def message(self) -> str:
        return problems_message(self.problems)


@dataclass(frozen=True)
class Accepted:
    received: ReceivedFile
    submission: Submission


@dataclass(frozen=True)
class Duplicate:
    """A file with exactly the bytes of one received before it: recorded, not read again."""

    received: ReceivedFile
    original: ReceivedFile
    member_code: str | None = None  # the member the original's content names


@dataclass(frozen=True)
class DamagedCopy:
    """A version on record whose archived copy is gone or altered: kept on record as such, never used."""

    received: ReceivedFile
    error: DamagedCopyError
    record: Receipt  # what the record says of the version (member, submitted_at, outcome when last read)

    @property
    def state(self) -> str:
        return self.error.state

    @property
    def message(self) -> str:
        found = "missing" if self.error.found is None else f"found {self.error.found}"
        return storable_text(
            f"the archived copy of {self.received.file_name} (sha256 {self.received.sha256}) at {self.error.path}"
            f" is damaged: expected {self.error.expected}, {found}; the version is kept on record but not used."
            " Restore the copy from a backup, or have the member send the file again"
        )


@dataclass
class IntakeResult:
    received: list[ReceivedFile] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    damaged: list[DamagedCopy] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # new landing files left for the next run (files per run cap)
    repaired: list[str] = field(default_factory=list)  # archived copies found damaged and rewritten from landing
    notes_ignored: list[str] = field(default_factory=list)  # arrival notes not used, and why (operator log lines)
    receipts: list[Receipt] = field(default_factory=list)  # every version taken in, as the ledger records it


def duplicate_problem(original: ReceivedFile) -> Problem:
    """The reason recorded for a file whose bytes repeat an earlier one's."""
    return Problem(
        "duplicate_file",
        f"exactly the same bytes as {original.file_name}, received {original.received_at:%Y-%m-%d %H:%M} UTC;"
        " it was not read again",
    )
