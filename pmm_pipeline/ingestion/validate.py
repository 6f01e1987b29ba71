"""Checking a parsed submission against the cycle, the members in force and the catalogue's items."""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.catalogue.models import Item
from pmm_pipeline.ingestion.submission import (
    ANSWER_STATUSES,
    DISCLOSURE_LEVELS,
    FORMAT_NAME,
    FORMAT_VERSION,
    Answer,
    ParsedSubmission,
    Problem,
    Submission,
)
from pmm_pipeline.reference.models import Cycle


@dataclass(frozen=True)
class ValidationContext:
    """What a submission landing in the folder of `cycle` is checked against."""

    cycle: Cycle
    members_in_force: frozenset[str]
    known_members: frozenset[str]
    items: dict[str, Item]
    kpi_ids: frozenset[str]


def _parse_timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _convert_value(item: Item, value: Any) -> tuple[float, str | None] | str:
    """(number, level code) for a valid value, or the message saying why it is not one."""
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
        return f"{value!r} is not one of the levels of {item.code} ({allowed})"
    if isinstance(value, str):
        return f"text {value!r} where {item.code} needs a number"
    if not _is_number(value):
        return f"{value!r} is not a finite number (item {item.code})"
    return float(value), None


def validate_submission(parsed: ParsedSubmission, ctx: ValidationContext) -> tuple[Submission | None, list[Problem]]:
    """The checked submission, or None with every problem found (all are reported, not the first)."""
    problems = list(parsed.problems)
    if parsed.format_name != FORMAT_NAME:
        problems.append(Problem("wrong_format", f"format is {parsed.format_name!r}, expected {FORMAT_NAME!r}"))
    if parsed.format_version != FORMAT_VERSION or isinstance(parsed.format_version, bool):
        problems.append(
            Problem(
                "unsupported_format_version",
                f"format_version {parsed.format_version!r} is not supported (expected {FORMAT_VERSION})",
            )
        )
    member = parsed.member
    if not isinstance(member, str) or member not in ctx.known_members:
        problems.append(Problem("unknown_member", f"member {member!r} is not in the members reference"))
    elif member not in ctx.members_in_force:
        problems.append(
            Problem(
                "member_not_in_cycle",
                f"member {member} is not a member in force for cycle {ctx.cycle.id}",
            )
        )
    if parsed.cycle != ctx.cycle.id:
        problems.append(
            Problem(
                "cycle_mismatch",
                f"cycle {parsed.cycle!r} in the file, but it was delivered for cycle {ctx.cycle.id!r}",
            )
        )
    submitted_at = _parse_timestamp(parsed.submitted_at)
    if submitted_at is None:
        problems.append(
            Problem("bad_timestamp", f"submitted_at {parsed.submitted_at!r} is not an ISO 8601 date-time")
        )

    answers: list[Answer] = []
    seen: dict[tuple[str, int], str] = {}
    for raw in parsed.answers:
        where = raw.location
        item = ctx.items.get(raw.item) if isinstance(raw.item, str) else None
        if item is None:
            problems.append(Problem("unknown_item", f"item {raw.item!r} is not in the catalogue of cycle {ctx.cycle.id}", where))
            continue
        if not isinstance(raw.year, int) or isinstance(raw.year, bool) or raw.year not in ctx.cycle.years:
            t_minus_1, t = ctx.cycle.years
            problems.append(
                Problem("year_out_of_range", f"year {raw.year!r} of {item.code} is not {t} (T) or {t_minus_1} (T-1)", where)
            )
            continue
        key = (item.code, raw.year)
        if key in seen:
            problems.append(
                Problem("duplicate_answer", f"{item.code} for {raw.year} is answered twice (also at {seen[key]})", where)
            )
            continue
        seen[key] = str(where)
        status = raw.status if raw.status is not None else ("reported" if raw.has_value else None)
        if status is None:
            problems.append(Problem("missing_value", f"{item.code} for {raw.year} has neither a value nor a status", where))
            continue
        if status not in ANSWER_STATUSES:
            problems.append(
                Problem("bad_status", f"status {status!r} of {item.code} is not one of {', '.join(ANSWER_STATUSES)}", where)
            )
            continue
        comment = raw.comment if isinstance(raw.comment, str) and raw.comment.strip() else None
        if raw.comment is not None and not isinstance(raw.comment, str):
            problems.append(Problem("bad_structure", f"comment of {item.code} must be text", where))
            continue
        if status != "reported":
            if raw.has_value:
                problems.append(
                    Problem("conflicting_status", f"{item.code} for {raw.year} has a value and status {status!r}", where)
                )
                continue
            answers.append(Answer(item.code, raw.year, status, None, None, comment, where))
            continue
        if not raw.has_value:
            problems.append(Problem("missing_value", f"{item.code} for {raw.year} is reported without a value", where))
            continue
        converted = _convert_value(item, raw.value)
        if isinstance(converted, str):
            problems.append(Problem("unknown_level" if item.is_categorical else "not_a_number", converted, where))
            continue
        value, level = converted
        answers.append(Answer(item.code, raw.year, status, value, level, comment, where))

    disclosure: dict[str, str] = {}
    if not isinstance(parsed.disclosure, dict):
        problems.append(Problem("bad_disclosure", "'disclosure' must map KPI ids to public, wco or secretariat"))
    else:
        for kpi_id, level in parsed.disclosure.items():
            if kpi_id not in ctx.kpi_ids:
                problems.append(Problem("unknown_kpi", f"disclosure names unknown KPI {kpi_id!r}"))
            elif level not in DISCLOSURE_LEVELS:
                problems.append(
                    Problem("bad_disclosure", f"disclosure {level!r} of {kpi_id} is not one of {', '.join(DISCLOSURE_LEVELS)}")
                )
            else:
                disclosure[kpi_id] = level

    if problems or submitted_at is None:
        return None, problems
    return (
        Submission(
            member_code=member,
            cycle=ctx.cycle.id,
            submitted_at=submitted_at,
            answers=answers,
            disclosure=disclosure,
            format=parsed.format,
        ),
        [],
    )
