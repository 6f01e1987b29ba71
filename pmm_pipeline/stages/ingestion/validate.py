"""Checking a parsed submission against the cycle, the members in force and the catalogue's items.

Every reader's output passes here, so what any file of any format may hold is decided here once:
its text (normalised, or refused when it cannot be stored: text.py), its numbers (finite, exact,
within the plausible bounds of the item's type: specs/catalogue/models.py, TYPE_BOUNDS), its
`submitted_at` (between the opening of the collection and the file's receipt), at least one
answer, and at most PMM_MAX_PROBLEMS problems listed.
"""

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.core.vocabulary import ANSWER_STATUSES, TIERS
from pmm_pipeline.specs.catalogue.models import Item, ItemType
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.ingestion.numbers import (
    DECIMAL_MARK,
    InexactNumber,
    NotANumber,
    PercentOfOne,
    exact_float,
    parse_number_text,
)
from pmm_pipeline.stages.ingestion.submission import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Answer,
    Location,
    ParsedSubmission,
    Problem,
    ProblemList,
    Submission,
)
from pmm_pipeline.stages.ingestion.text import TextIssue, normalise_tree, quote
from pmm_pipeline.stages.questionnaire.layout import TEMPLATE_VERSION


@dataclass(frozen=True)
class ValidationContext:
    """What a submission landing in the folder of `cycle` is checked against."""

    cycle: Cycle
    members_in_force: frozenset[str]
    known_members: frozenset[str]
    items: dict[str, Item]
    kpi_ids: frozenset[str]
    # Questionnaire language of each member: the locale that reads numbers typed as text.
    member_languages: Mapping[str, str] = field(default_factory=dict)
    # What the cycle's questionnaire asks now; a questionnaire stamped with another digest is outdated.
    questionnaire_digest: str | None = None
    # The zone of the cycles calendar (cycles.yaml `timezone`): the collection opens at midnight there.
    timezone: dt.tzinfo = dt.UTC

    @property
    def collection_opens_at(self) -> dt.datetime:
        return dt.datetime.combine(self.cycle.collection.opens, dt.time(0), tzinfo=self.timezone)


# How far a sender's clock may run ahead of ours (or a file be dated before the opening) before its
# submitted_at is refused: the stated time orders versions, so one dated in the future would
# outrank every later correction (a file dated 2099 stayed the member's version for good).
CLOCK_TOLERANCE = dt.timedelta(minutes=10)


def _parse_timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across midnight by its offset
        return None


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a double
        return False


def _exact(item: Item, value: int | float) -> float | NotANumber:
    """A file's number as a double, or why it cannot be one without rounding."""
    if isinstance(value, float):
        return value
    try:
        exact = exact_float(value)
    except OverflowError:
        exact = math.inf
    if exact is None:
        return NotANumber(
            "inexact_number",
            f"{item.code}: {quote(value)} has more digits than a double-precision number keeps (above 2**53);"
            f" it would be rounded to {float(value):.17g}: send at most 15 significant digits",
        )
    return exact


def _convert_value(
    item: Item, value: Any, numbers_as_text: bool, decimal_mark: str | None
) -> tuple[float, str | None] | NotANumber:
    """(number, level code) for a valid value, or the code and message saying why it is not one."""
    if item.is_categorical:
        levels = item.answer_levels
        if isinstance(value, bool) and item.type.value == "yes_no":
            value = "yes" if value else "no"
        if isinstance(value, str):
            code = value.strip().lower()
            for level in levels:
                if code in (level.code, level.labels.en.lower(), level.labels.fr.lower(), level.labels.es.lower()):
                    return level.score, level.code
        elif _is_number(value):
            for level in levels:
                if float(value) == level.score:
                    return level.score, level.code
        allowed = ", ".join(lv.code for lv in levels)
        return NotANumber("unknown_level", f"{quote(value)} is not one of the levels of {item.code} ({allowed})")
    if isinstance(value, InexactNumber):
        return NotANumber(
            "inexact_number",
            f"{item.code}: {value!r} has more digits than a double-precision number keeps; it would be rounded"
            f" to {float(value.text):.17g}: send at most 15 significant digits",
        )
    if isinstance(value, PercentOfOne):
        if item.type == ItemType.percent:
            return value.as_percent(), None
        return NotANumber(
            "not_a_number", f"{item.code} is formatted as a percentage ({value.as_percent():g}%) but is in {item.unit}"
        )
    if isinstance(value, str):
        if not numbers_as_text:
            return NotANumber("not_a_number", f"text {quote(value)} where {item.code} needs a number")
        parsed = parse_number_text(value, decimal_mark)
        if isinstance(parsed, NotANumber):
            return NotANumber(parsed.code, f"{item.code}: {parsed.message}")
        if parsed.is_percent and item.type != ItemType.percent:
            return NotANumber("not_a_number", f"{quote(value)} is a percentage, but {item.code} is in {item.unit}")
        if parsed.alternative is not None and item.type == ItemType.count and not parsed.value.is_integer():
            return NotANumber(
                "ambiguous_number",
                f"{quote(value)} of {item.code} reads as {parsed.value:g} with {parsed.read_as} (the member's locale),"
                f" but a count is a whole number; it may mean {parsed.alternative:g}: write it without separators",
            )
        return parsed.value, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _exact(item, value)
        return number if isinstance(number, NotANumber) else (number, None)
    return NotANumber("not_a_number", f"{quote(value)} is not a finite number (item {item.code})")


def _bounds_problem(item: Item, value: float) -> NotANumber | None:
    """Why a number cannot be taken in whatever the item: not finite, or beyond its type's plausible bounds."""
    if not math.isfinite(value):
        return NotANumber("not_a_number", f"{item.code}: {value!r} is not a finite number")
    bounds = item.type.bounds
    if bounds is None or value == 0 or bounds.min_abs_nonzero <= abs(value) <= bounds.max_abs:
        return None
    return NotANumber(
        "value_out_of_bounds",
        f"{item.code}: {value:.6g} is outside the plausible bounds of a {item.type.value} ({item.unit}): its size"
        f" must be 0 or between {bounds.min_abs_nonzero:g} and {bounds.max_abs:g}; check the unit and the digits",
    )


def _template_problems(parsed: ParsedSubmission, ctx: ValidationContext) -> list[Problem]:
    """An Excel questionnaire must carry an unedited stamp of the current template and catalogue."""
    stamp = parsed.template
    if stamp is None:
        return []
    if not stamp.checksum_matches:
        return [
            Problem(
                "template_modified",
                "the questionnaire's hidden metadata was edited (its checksum does not match); fill in the"
                " questionnaire issued for this member and cycle",
            )
        ]
    if stamp.cycle != ctx.cycle.id:
        return []  # another cycle's questionnaire: reported as cycle_mismatch, not as outdated
    outdated = str(stamp.template_version) != str(TEMPLATE_VERSION) or (
        ctx.questionnaire_digest is not None and stamp.questionnaire_digest != ctx.questionnaire_digest
    )
    if outdated:
        return [
            Problem(
                "outdated_template",
                f"the questionnaire was generated for an earlier version of cycle {ctx.cycle.id}'s questions"
                " (template or catalogue changed); copy the answers into a newly issued questionnaire",
            )
        ]
    return []


_ANSWER_FIELDS = ("item", "year", "value", "status", "comment")


def _pointer_part(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")  # RFC 6901 escaping


def _field_location(parsed: ParsedSubmission, name: str) -> Location:
    if name in parsed.field_locations:
        return parsed.field_locations[name]
    if parsed.format == "json":
        return Location(pointer=f"/{'format' if name == 'format_name' else name}")
    return Location()


def _disclosure_location(parsed: ParsedSubmission, kpi_id: Any) -> Location:
    if isinstance(kpi_id, str) and kpi_id in parsed.disclosure_locations:
        return parsed.disclosure_locations[kpi_id]
    return Location(pointer=f"/disclosure/{_pointer_part(kpi_id)}") if parsed.format == "json" else Location()


def _text_problem(issue: TextIssue, parsed: ParsedSubmission) -> Problem:
    """A text issue as a problem naming its place in the file (pointer, sheet and cell, or line)."""
    path = issue.path
    head = path[0] if path else None
    if head == "answers" and len(path) > 1 and isinstance(path[1], int):
        raw = parsed.answers[path[1]]
        where, what = raw.location, "an answer"
        if len(path) > 2 and path[2] in _ANSWER_FIELDS:
            what = f"the {path[2]} of an answer"
            if where.pointer is not None:
                where = dataclasses.replace(where, pointer="/".join([where.pointer, *map(_pointer_part, path[2:])]))
        elif len(path) > 2 and path[2] == "location":
            what = "the sheet name of an answer"
        return Problem(issue.code, f"{what} {issue.detail}", where, item=raw.item, year=raw.year)
    if head in ("disclosure", "disclosure_locations") and len(path) > 1:
        key = path[1]
        where = _disclosure_location(parsed, key) if key != "(key)" else _field_location(parsed, "disclosure")
        what = "a KPI id of the disclosure" if key == "(key)" else f"the disclosure of {quote(key)}"
        return Problem(issue.code, f"{what} {issue.detail}", where)
    if head in ("contact", "template", "field_locations") and len(path) > 1:
        name = str(path[1])
        return Problem(issue.code, f"the {name} field {issue.detail}", _field_location(parsed, name))
    name = str(head) if head is not None else "file"
    return Problem(issue.code, f"the {name} field {issue.detail}", _field_location(parsed, name))


def normalise_text(parsed: ParsedSubmission, max_length: int) -> tuple[ParsedSubmission, list[Problem]]:
    """`parsed` with every text in it normalised, and a problem for each text that cannot be taken in.

    The one choke point for text: every reader's ParsedSubmission passes here before any check
    reads it, so that a field a reader adds later is covered too (text.py walks every field).
    """
    issues: list[TextIssue] = []
    normalised = normalise_tree(parsed, max_length, issues, skip=lambda name: name == "problems")
    return normalised, [_text_problem(issue, parsed) for issue in issues]


def _timestamp_problem(
    submitted_at: dt.datetime, ctx: ValidationContext, received_at: dt.datetime | None
) -> str | None:
    """Why a stated submission time cannot be right, or None."""
    opens_at = ctx.collection_opens_at
    if submitted_at < opens_at - CLOCK_TOLERANCE:
        return (
            f"submitted_at {submitted_at:%Y-%m-%d %H:%M} UTC is before the collection of cycle {ctx.cycle.id} opened"
            f" ({opens_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC); put the date the file was sent"
        )
    if received_at is not None and submitted_at > received_at + CLOCK_TOLERANCE:
        return (
            f"submitted_at {submitted_at:%Y-%m-%d %H:%M} UTC is later than the file was received"
            f" ({received_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC), beyond the"
            f" {CLOCK_TOLERANCE.total_seconds() / 60:g} minutes a clock may be off; put the date the file was sent"
        )
    return None


def validate_submission(
    parsed: ParsedSubmission,
    ctx: ValidationContext,
    limits: IntakeLimits = DEFAULT_LIMITS,
    received_at: dt.datetime | None = None,
    *,
    submitted_at: dt.datetime | None = None,
) -> tuple[Submission | None, list[Problem]]:
    """The checked submission, or None with the problems found (all of them up to PMM_MAX_PROBLEMS).

    `received_at` is when the file arrived; a `submitted_at` later than it (beyond CLOCK_TOLERANCE)
    is refused. Without it (a caller that has no receipt time) only the opening is checked.
    `submitted_at`, when given, is the submission time the channel fixes (the platform's receipt time):
    the time the file states is then neither checked nor used, whatever it says.
    """
    parsed, text_problems = normalise_text(parsed, limits.max_text_length)
    problems = ProblemList(limits.max_problems, parsed.problems)
    problems += _template_problems(parsed, ctx)
    problems += text_problems
    if parsed.format_name != FORMAT_NAME:
        problems.append(Problem("wrong_format", f"format is {quote(parsed.format_name)}, expected {FORMAT_NAME!r}"))
    if parsed.format_version != FORMAT_VERSION or isinstance(parsed.format_version, bool):
        problems.append(
            Problem(
                "unsupported_format_version",
                f"format_version {quote(parsed.format_version)} is not supported (expected {FORMAT_VERSION})",
            )
        )
    member = parsed.member
    if not isinstance(member, str) or member not in ctx.known_members:
        problems.append(
            Problem(
                "unknown_member",
                f"member {quote(member)} is not in the members reference",
                _field_location(parsed, "member"),
            )
        )
    elif member not in ctx.members_in_force:
        problems.append(
            Problem(
                "member_not_in_cycle",
                f"member {member} is not a member in force for cycle {ctx.cycle.id}",
                _field_location(parsed, "member"),
            )
        )
    if parsed.cycle != ctx.cycle.id:
        problems.append(
            Problem(
                "cycle_mismatch",
                f"cycle {quote(parsed.cycle)} in the file, but it was delivered for cycle {ctx.cycle.id!r}",
                _field_location(parsed, "cycle"),
            )
        )
    fixed_time = submitted_at
    submitted_at = fixed_time or _parse_timestamp(parsed.submitted_at)
    if fixed_time is not None:
        pass  # the platform's receipt time: what the file says of its own time does not count
    elif submitted_at is None:
        problems.append(
            Problem(
                "bad_timestamp",
                f"submitted_at {quote(parsed.submitted_at)} is not an ISO 8601 date-time",
                _field_location(parsed, "submitted_at"),
            )
        )
    elif (wrong_time := _timestamp_problem(submitted_at, ctx, received_at)) is not None:
        problems.append(Problem("bad_timestamp", wrong_time, _field_location(parsed, "submitted_at")))
    if not parsed.answers and not parsed.problems:  # a reader's problem (a formula without value) may be why
        problems.append(
            Problem(
                "no_answers",
                "the submission holds no answer at all (a blank questionnaire, an empty list of answers or only"
                " disclosure choices); fill in at least one answer, or a status for what does not apply",
            )
        )

    language = ctx.member_languages.get(member) if isinstance(member, str) else None
    if language is None and parsed.template is not None:
        language = parsed.template.language
    decimal_mark = DECIMAL_MARK.get(language) if isinstance(language, str) else None

    answers: list[Answer] = []
    seen: dict[tuple[str, int], str] = {}
    for raw in parsed.answers:
        if problems.overflowed:
            break  # rejected already; more checks only make more messages
        where = raw.location
        item = ctx.items.get(raw.item) if isinstance(raw.item, str) else None

        def problem(code: str, message: str, raw=raw, where=where) -> None:
            problems.append(Problem(code, message, where, item=raw.item, year=raw.year, value=raw.value))

        if item is None:
            problem("unknown_item", f"item {quote(raw.item)} is not in the catalogue of cycle {ctx.cycle.id}")
            continue
        if not isinstance(raw.year, int) or isinstance(raw.year, bool) or raw.year not in ctx.cycle.years:
            t_minus_1, t = ctx.cycle.years
            problem("year_out_of_range", f"year {quote(raw.year)} of {item.code} is not {t} (T) or {t_minus_1} (T-1)")
            continue
        key = (item.code, raw.year)
        if key in seen:
            problem("duplicate_answer", f"{item.code} for {raw.year} is answered twice (also at {seen[key]})")
            continue
        seen[key] = str(where)
        status = raw.status if raw.status is not None else ("reported" if raw.has_value else None)
        if status is None:
            problem("missing_value", f"{item.code} for {raw.year} has neither a value nor a status")
            continue
        if status not in ANSWER_STATUSES:
            problem("bad_status", f"status {quote(status)} of {item.code} is not one of {', '.join(ANSWER_STATUSES)}")
            continue
        comment = raw.comment if isinstance(raw.comment, str) and raw.comment.strip() else None
        if raw.comment is not None and not isinstance(raw.comment, str):
            problem("bad_structure", f"comment of {item.code} must be text")
            continue
        if status != "reported":
            if raw.has_value:
                problem("conflicting_status", f"{item.code} for {raw.year} has a value and status {quote(status)}")
                continue
            answers.append(Answer(item.code, raw.year, status, None, None, comment, where))
            continue
        if not raw.has_value:
            problem("missing_value", f"{item.code} for {raw.year} is reported without a value")
            continue
        converted = _convert_value(item, raw.value, parsed.numbers_as_text, decimal_mark)
        if isinstance(converted, NotANumber):
            problem(converted.code, converted.message)
            continue
        value, level = converted
        out_of_bounds = _bounds_problem(item, value)
        if out_of_bounds is not None:
            problem(out_of_bounds.code, f"{out_of_bounds.message} (year {raw.year}, at {where})")
            continue
        answers.append(Answer(item.code, raw.year, status, value, level, comment, where))

    disclosure: dict[str, str] = {}
    if not isinstance(parsed.disclosure, dict):
        problems.append(Problem("bad_disclosure", "'disclosure' must map KPI ids to public, wco or secretariat"))
    else:
        for kpi_id, level in parsed.disclosure.items():
            if problems.overflowed:
                break
            where = _disclosure_location(parsed, kpi_id)
            if kpi_id not in ctx.kpi_ids:
                message = f"disclosure names unknown KPI {quote(kpi_id)}"
                problems.append(Problem("unknown_kpi", message, where, value=level))
            elif level not in TIERS:
                problems.append(
                    Problem(
                        "bad_disclosure",
                        f"disclosure {quote(level)} of {kpi_id} is not one of {', '.join(TIERS)}",
                        where,
                        value=level,
                    )
                )
            else:
                disclosure[kpi_id] = level

    if problems or submitted_at is None:
        return None, problems.listed()
    return (
        Submission(
            member_code=member,
            cycle=ctx.cycle.id,
            submitted_at=submitted_at,
            answers=answers,
            disclosure=disclosure,
            format=parsed.format,
            contact=dict(parsed.contact),
        ),
        [],
    )
