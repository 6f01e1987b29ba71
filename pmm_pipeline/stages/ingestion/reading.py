"""Reading one file version: its name and bytes checked, read by the reader of its format, validated, judged.

Nothing a member sends makes it raise: every problem found becomes part of the `ReadOutcome` (up to
PMM_MAX_PROBLEMS). `judge_file` is the one judgement of a received version (a duplicate, or what reading it
gives), made by the intake for every version and by the member platform for an upload.
"""

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.stages.ingestion.arrivals import Arrival, platform_problems
from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.csv_reader import read_csv_submission
from pmm_pipeline.stages.ingestion.json_reader import read_json_submission
from pmm_pipeline.stages.ingestion.landing import Delivered
from pmm_pipeline.stages.ingestion.limits import check_file_name, check_macro_suffix, file_name_member
from pmm_pipeline.stages.ingestion.outcomes import Duplicate, ReceivedFile
from pmm_pipeline.stages.ingestion.read_cache import ReadCache
from pmm_pipeline.stages.ingestion.submission import ParsedSubmission, Problem, ProblemList, RejectedFile, Submission
from pmm_pipeline.stages.ingestion.validate import validate_submission
from pmm_pipeline.stages.ingestion.xlsx_reader import read_xlsx_submission

Reader = Callable[[bytes, IntakeLimits], ParsedSubmission]
READERS: dict[str, Reader] = {
    ".json": read_json_submission,
    ".xlsx": read_xlsx_submission,
    ".csv": read_csv_submission,
    ".tsv": read_csv_submission,
    ".txt": read_csv_submission,  # Excel's "Unicode text" export: UTF-16, tab-delimited
}
DEFAULT_MAX_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes


@dataclass(frozen=True)
class ReadOutcome:
    submission: Submission | None
    problems: list[Problem]
    member_code: str | None  # the member the content names, when a known one (never from the file name alone)


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
    arrival: Arrival | None = None,
) -> ReadOutcome:
    """Check one file's name and bytes, read and validate them; never raises for bad content.

    Every problem found is reported (up to PMM_MAX_PROBLEMS), the file name's first; a file name
    that starts with a member code (`KEN_...`) must name the member the content is from. The file
    is credited to the member its content names, when that is a known member code, and never to
    the member of its name alone: anyone can name a file `KEN_...`. `received_at` is when the file
    arrived (a `submitted_at` later than it is refused); None skips that check.

    With the `arrival` note of a file the platform delivered, its receipt time is its submission time
    (the time the file states is not used), the platform's reasons (cycle_closed, wrong_member) come
    first, and the file is credited to the member of the account that sent it, when an NCP's.
    """
    if arrival is None:
        return _read_content(file_name, data, ctx, limits, received_at=received_at)
    outcome = _read_content(
        file_name, data, ctx, limits, received_at=arrival.received_at, submitted_at=arrival.received_at
    )
    refusals = platform_problems(arrival, outcome.member_code, ctx.cycle, ctx.timezone)
    member = arrival.member or outcome.member_code
    if not refusals:
        return dataclasses.replace(outcome, member_code=member)
    return ReadOutcome(None, _listed(refusals + outcome.problems, limits.max_problems), member)


def _read_content(
    file_name: str,
    data: bytes,
    ctx: ValidationContext,
    limits: IntakeLimits,
    *,
    received_at: dt.datetime | None,
    submitted_at: dt.datetime | None = None,
) -> ReadOutcome:
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
        submission, found = validate_submission(parsed, ctx, limits, received_at=received_at, submitted_at=submitted_at)
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


def judge_file(
    entry: Delivered,
    received: ReceivedFile,
    ctx: ValidationContext,
    limits: IntakeLimits,
    duplicate_of: tuple[ReceivedFile, str | None] | None = None,
    reads: ReadCache | None = None,
) -> "ReadOutcome | Duplicate":
    """What becomes of one received file version: a duplicate of `duplicate_of` (the first file received with
    the same bytes, and the member it was credited to), or what reading it gives.

    The one judgement of a file, made by the intake for every version and by the member platform for an upload
    (stages/delivery/), so that the verdict shown and the record kept cannot differ. A platform file that repeats
    earlier bytes is still refused for the platform's own reasons (a closed cycle, another member's file).
    """
    arrival = received.arrival
    if duplicate_of is not None:
        original, member = duplicate_of
        refusals = platform_problems(arrival, member, ctx.cycle, ctx.timezone) if arrival else []
        credited = (arrival.member or member) if arrival else member
        if not refusals:
            return Duplicate(received, original, credited)
        return ReadOutcome(None, _listed(refusals, limits.max_problems), credited)
    return read_delivered(entry, received, ctx, limits, reads)


def read_delivered(
    entry: Delivered,
    received: ReceivedFile,
    ctx: ValidationContext,
    limits: IntakeLimits,
    reads: ReadCache | None = None,
) -> ReadOutcome:
    if entry.data is None:
        # Nothing of it is read: it names no member (the file name alone credits nobody).
        message = f"the file has {entry.size} bytes, over the limit of {limits.max_file_bytes}"
        problems = [Problem("file_too_large", message)]
        arrival = received.arrival
        if arrival is not None:  # the platform's reasons first, credited to the account's member, as read_file does
            problems = platform_problems(arrival, None, ctx.cycle, ctx.timezone) + problems
        return ReadOutcome(None, problems, arrival.member if arrival else None)
    key = None
    if reads is not None and entry.sha256 is not None:
        key = reads.key(entry.sha256, entry.file_name, received.received_at, received.arrival)
        found = reads.get(key)
        if found is not None:
            return ReadOutcome(found[0], [], found[1])
    # The recorded receipt time, not now: a version read back from the archive is judged as when it came.
    outcome = read_file(
        entry.file_name, entry.data, ctx, limits, received_at=received.received_at, arrival=received.arrival
    )
    if key is not None:
        if outcome.submission is not None and not outcome.problems:
            reads.put(key, outcome.submission, outcome.member_code)
        else:
            reads.missed()
    return outcome
