"""What every reader produces from a received file, whatever its format, and how problems are named."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

ANSWER_STATUSES = ("reported", "not_applicable", "not_available")
DISCLOSURE_LEVELS = ("public", "wco", "secretariat")
DEFAULT_DISCLOSURE = "secretariat"
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
    """Raised by readers for a file that cannot be read as a submission at all."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.problem = Problem(code, message)


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
