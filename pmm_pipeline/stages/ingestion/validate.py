"""Checking a parsed submission against the cycle, the members in force and the catalogue's items.

Every reader's output passes here, so what any file of any format may hold is decided here once:
its text (normalised, or refused when it cannot be stored: submission_text.py, text.py), its
numbers (finite, exact, within the plausible bounds of the item's type: answer_values.py,
specs/catalogue/models.py TYPE_BOUNDS), its `submitted_at` (between the opening of the collection
and the file's receipt: timestamps.py), its questionnaire's stamp (template_check.py), at least
one answer, and at most PMM_MAX_PROBLEMS problems listed.
"""

import datetime as dt

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.core.vocabulary import ANSWER_STATUSES, TIERS
from pmm_pipeline.stages.ingestion.answer_values import bounds_problem, convert_value
from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.locations import disclosure_location, field_location
from pmm_pipeline.stages.ingestion.numbers import DECIMAL_MARK, NotANumber
from pmm_pipeline.stages.ingestion.submission import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Answer,
    ParsedSubmission,
    Problem,
    ProblemList,
    Submission,
)
from pmm_pipeline.stages.ingestion.submission_text import normalise_text
from pmm_pipeline.stages.ingestion.template_check import template_problems
from pmm_pipeline.stages.ingestion.text import quote
from pmm_pipeline.stages.ingestion.timestamps import parse_timestamp, timestamp_problem


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
    problems += template_problems(parsed, ctx)
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
                field_location(parsed, "member"),
            )
        )
    elif member not in ctx.members_in_force:
        problems.append(
            Problem(
                "member_not_in_cycle",
                f"member {member} is not a member in force for cycle {ctx.cycle.id}",
                field_location(parsed, "member"),
            )
        )
    if parsed.cycle != ctx.cycle.id:
        problems.append(
            Problem(
                "cycle_mismatch",
                f"cycle {quote(parsed.cycle)} in the file, but it was delivered for cycle {ctx.cycle.id!r}",
                field_location(parsed, "cycle"),
            )
        )
    fixed_time = submitted_at
    submitted_at = fixed_time or parse_timestamp(parsed.submitted_at)
    if fixed_time is not None:
        pass  # the platform's receipt time: what the file says of its own time does not count
    elif submitted_at is None:
        problems.append(
            Problem(
                "bad_timestamp",
                f"submitted_at {quote(parsed.submitted_at)} is not an ISO 8601 date-time",
                field_location(parsed, "submitted_at"),
            )
        )
    elif (wrong_time := timestamp_problem(submitted_at, ctx, received_at)) is not None:
        problems.append(Problem("bad_timestamp", wrong_time, field_location(parsed, "submitted_at")))
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
        converted = convert_value(item, raw.value, parsed.numbers_as_text, decimal_mark)
        if isinstance(converted, NotANumber):
            problem(converted.code, converted.message)
            continue
        value, level = converted
        out_of_bounds = bounds_problem(item, value)
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
            where = disclosure_location(parsed, kpi_id)
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
