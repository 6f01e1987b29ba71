"""Checking a parsed submission against the cycle, the members in force and the catalogue's items."""

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pmm_pipeline.catalogue.models import Item, ItemType
from pmm_pipeline.ingestion.numbers import DECIMAL_MARK, NotANumber, PercentOfOne, parse_number_text
from pmm_pipeline.ingestion.submission import (
    ANSWER_STATUSES,
    DISCLOSURE_LEVELS,
    FORMAT_NAME,
    FORMAT_VERSION,
    Answer,
    Location,
    ParsedSubmission,
    Problem,
    Submission,
)
from pmm_pipeline.questionnaire.layout import TEMPLATE_VERSION
from pmm_pipeline.reference.models import Cycle


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
        return NotANumber("unknown_level", f"{value!r} is not one of the levels of {item.code} ({allowed})")
    if isinstance(value, PercentOfOne):
        if item.type == ItemType.percent:
            return value.as_percent(), None
        return NotANumber(
            "not_a_number", f"{item.code} is formatted as a percentage ({value.as_percent():g}%) but is in {item.unit}"
        )
    if isinstance(value, str):
        if not numbers_as_text:
            return NotANumber("not_a_number", f"text {value!r} where {item.code} needs a number")
        parsed = parse_number_text(value, decimal_mark)
        if isinstance(parsed, NotANumber):
            return NotANumber(parsed.code, f"{item.code}: {parsed.message}")
        if parsed.is_percent and item.type != ItemType.percent:
            return NotANumber("not_a_number", f"{value!r} is a percentage, but {item.code} is in {item.unit}")
        if parsed.alternative is not None and item.type == ItemType.count and not parsed.value.is_integer():
            return NotANumber(
                "ambiguous_number",
                f"{value!r} of {item.code} reads as {parsed.value:g} with {parsed.read_as} (the member's locale),"
                f" but a count is a whole number; it may mean {parsed.alternative:g}: write it without separators",
            )
        return parsed.value, None
    if not _is_number(value):
        return NotANumber("not_a_number", f"{value!r} is not a finite number (item {item.code})")
    return float(value), None


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


def validate_submission(parsed: ParsedSubmission, ctx: ValidationContext) -> tuple[Submission | None, list[Problem]]:
    """The checked submission, or None with every problem found (all are reported, not the first)."""
    problems = list(parsed.problems) + _template_problems(parsed, ctx)
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

    language = ctx.member_languages.get(member) if isinstance(member, str) else None
    if language is None and parsed.template is not None:
        language = parsed.template.language
    decimal_mark = DECIMAL_MARK.get(language) if isinstance(language, str) else None

    answers: list[Answer] = []
    seen: dict[tuple[str, int], str] = {}
    for raw in parsed.answers:
        where = raw.location
        item = ctx.items.get(raw.item) if isinstance(raw.item, str) else None

        def problem(code: str, message: str, raw=raw, where=where) -> None:
            problems.append(Problem(code, message, where, item=raw.item, year=raw.year, value=raw.value))

        if item is None:
            problem("unknown_item", f"item {raw.item!r} is not in the catalogue of cycle {ctx.cycle.id}")
            continue
        if not isinstance(raw.year, int) or isinstance(raw.year, bool) or raw.year not in ctx.cycle.years:
            t_minus_1, t = ctx.cycle.years
            problem("year_out_of_range", f"year {raw.year!r} of {item.code} is not {t} (T) or {t_minus_1} (T-1)")
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
            problem("bad_status", f"status {status!r} of {item.code} is not one of {', '.join(ANSWER_STATUSES)}")
            continue
        comment = raw.comment if isinstance(raw.comment, str) and raw.comment.strip() else None
        if raw.comment is not None and not isinstance(raw.comment, str):
            problem("bad_structure", f"comment of {item.code} must be text")
            continue
        if status != "reported":
            if raw.has_value:
                problem("conflicting_status", f"{item.code} for {raw.year} has a value and status {status!r}")
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
        answers.append(Answer(item.code, raw.year, status, value, level, comment, where))

    disclosure: dict[str, str] = {}
    if not isinstance(parsed.disclosure, dict):
        problems.append(Problem("bad_disclosure", "'disclosure' must map KPI ids to public, wco or secretariat"))
    else:
        for kpi_id, level in parsed.disclosure.items():
            where = parsed.disclosure_locations.get(kpi_id, Location())
            if kpi_id not in ctx.kpi_ids:
                problems.append(Problem("unknown_kpi", f"disclosure names unknown KPI {kpi_id!r}", where, value=level))
            elif level not in DISCLOSURE_LEVELS:
                problems.append(
                    Problem(
                        "bad_disclosure",
                        f"disclosure {level!r} of {kpi_id} is not one of {', '.join(DISCLOSURE_LEVELS)}",
                        where,
                        value=level,
                    )
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
            contact=dict(parsed.contact),
        ),
        [],
    )
