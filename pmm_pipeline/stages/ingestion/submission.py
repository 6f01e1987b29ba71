"""What every reader produces from a received file, whatever its format, and how problems are named."""

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pmm_pipeline.core.text import printable
from pmm_pipeline.stages.ingestion.text import MESSAGE_LENGTH, SHOWN_LENGTH, quote

FORMAT_NAME = "pmm-submission"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Location:
    """Where an answer sits in the file it came from (the fields that fit the format are set)."""

    pointer: str | None = None  # JSON pointer, e.g. /answers/3
    sheet: str | None = None
    cell: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.sheet or self.cell:
            return f"sheet {self.sheet}, cell {self.cell}"
        if self.line is not None:
            return f"line {self.line}"
        return self.pointer or "(file)"


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _shown(value: Any) -> Any:
    """A value from a file as a problem keeps it: a short scalar, its text escaped and cut.

    A problem is written to reason files, tables, logs and feedback workbooks; a JSON value may be a
    megabyte of nested lists, a string full of control characters or an integer of 4000 digits.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, int):
        # str() of an integer over 4300 digits raises; its size is what the reader needs to know
        return value if abs(value) < 10**18 else f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str):
        return printable(value, SHOWN_LENGTH)
    return printable(quote(value, SHOWN_LENGTH), SHOWN_LENGTH)


def _shown_location(location: "Location") -> "Location":
    changes = {
        name: printable(text, SHOWN_LENGTH)
        for name in ("pointer", "sheet", "cell")
        if isinstance(text := getattr(location, name), str) and printable(text, SHOWN_LENGTH) != text
    }
    return dataclasses.replace(location, **changes) if changes else location


@dataclass(frozen=True)
class Problem:
    """One reason a file is rejected: a stable machine code and a message for people.

    `item`, `year` and `value` say which answer it is about (when it is about one), so that the
    member's feedback report can show them next to the place in the file.
    """

    code: str
    message: str
    location: Location = field(default_factory=Location)
    item: str | None = None
    year: int | None = None
    value: Any = None

    def __post_init__(self) -> None:
        # Whatever a reader or a rule put in, a problem holds only short, printable text: one choke
        # point for every message, value and place echoed from a file, now and for checks added later.
        object.__setattr__(self, "message", printable(str(self.message), MESSAGE_LENGTH))
        object.__setattr__(self, "item", _shown(self.item))
        object.__setattr__(self, "year", _shown(self.year))
        object.__setattr__(self, "value", _shown(self.value))
        object.__setattr__(self, "location", _shown_location(self.location))

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "location": str(self.location),
            "sheet": self.location.sheet,
            "cell": self.location.cell,
            "line": self.location.line,
            "pointer": self.location.pointer,
            "item": self.item if isinstance(self.item, str) else _json_safe(self.item),
            "year": self.year if isinstance(self.year, int) else _json_safe(self.year),
            "value": _json_safe(self.value),
        }


class RejectedFile(Exception):
    """Raised by readers for a file that cannot be read as a submission at all.

    `member` is the member the content names, when the reader got that far (a questionnaire's
    stamp), so that the rejection reaches that member's feedback.
    """

    def __init__(self, code: str, message: str, location: Location | None = None, member: Any = None):
        super().__init__(message)
        self.problem = Problem(code, message, location or Location())
        self.member = member


class ProblemList(list):
    """The problems of one file, at most `cap` of them; readers stop once `overflowed`.

    A file with ten thousand broken rows needs no ten thousand messages: the first `cap` say what
    to fix, and one more (see `listed`) says the list was cut and reading stopped.
    """

    def __init__(self, cap: int, problems: Iterable[Problem] = ()):
        super().__init__()
        self.cap = cap
        self.dropped = 0
        self.extend(problems)

    def append(self, problem: Problem) -> None:
        if len(self) < self.cap:
            super().append(problem)
        else:
            self.dropped += 1

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.append(problem)
        if isinstance(problems, ProblemList):
            self.dropped += problems.dropped

    def __iadd__(self, problems: Iterable[Problem]) -> "ProblemList":
        self.extend(problems)
        return self

    @property
    def overflowed(self) -> bool:
        return self.dropped > 0

    def listed(self) -> list[Problem]:
        """The problems to report: all of them, or the first `cap` and one saying the rest were not read."""
        if not self.overflowed:
            return list(self)
        more = Problem(
            "too_many_problems",
            f"over {self.cap} problems: the first {self.cap} are listed and reading stopped there"
            f" ({self.dropped} more found before it stopped); correct these and send the file again",
        )
        return [*self, more]


@dataclass(frozen=True)
class RawAnswer:
    """An answer as written in the file, before it is checked against the catalogue."""

    item: Any
    year: Any
    value: Any = None
    status: Any = None
    comment: Any = None
    location: Location = field(default_factory=Location)
    has_value: bool = False


@dataclass(frozen=True)
class TemplateStamp:
    """What a questionnaire's hidden metadata says about the template it was generated as."""

    template_version: Any
    member: Any
    cycle: Any
    language: Any
    questionnaire_digest: Any
    checksum_matches: bool  # False when the metadata was edited after generation


@dataclass(frozen=True)
class ParsedSubmission:
    """A file read into the interchange model; fields hold what the file said, unchecked."""

    format: str
    member: Any
    cycle: Any
    submitted_at: Any
    answers: list[RawAnswer]
    disclosure: Any
    format_version: Any = FORMAT_VERSION
    format_name: Any = FORMAT_NAME
    problems: list[Problem] = field(default_factory=list)  # found while reading the structure
    # Questionnaires and CSV exports are typed by people: text values are read as numbers with
    # the member's locale (see numbers.py); the JSON interchange format requires real numbers.
    numbers_as_text: bool = False
    template: TemplateStamp | None = None  # the questionnaire's hidden stamp, for Excel files
    disclosure_locations: dict[str, Location] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)  # who filled it in, when the file says
    # Where the file states each top-level field (member, cycle, submitted_at, a contact field),
    # when it is not a JSON pointer of the same name: a CSV line, a cover or stamp cell.
    field_locations: dict[str, Location] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """A checked answer: known item, a year of the cycle, a status, a number or nothing."""

    item: str
    year: int
    status: str
    value: float | None
    value_text: str | None
    comment: str | None
    location: Location


@dataclass(frozen=True)
class Submission:
    """A checked submission of one member for one cycle, ready for the warehouse."""

    member_code: str
    cycle: str
    submitted_at: dt.datetime
    answers: list[Answer]
    disclosure: dict[str, str]
    format: str
    contact: dict[str, str] = field(default_factory=dict)
