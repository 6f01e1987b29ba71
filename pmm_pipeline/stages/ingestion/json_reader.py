"""Reading the JSON interchange format (version 1) of `../shared/contract.md` into a ParsedSubmission."""

import json
from typing import Any

from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.stages.ingestion.numbers import InexactNumber, exact_float
from pmm_pipeline.stages.ingestion.submission import (
    Location,
    ParsedSubmission,
    Problem,
    ProblemList,
    RawAnswer,
    RejectedFile,
)
from pmm_pipeline.stages.ingestion.text import quote

TOP_LEVEL_FIELDS = {"format", "format_version", "member", "cycle", "submitted_at", "answers", "disclosure"}
REQUIRED_FIELDS = ("format", "format_version", "member", "cycle", "submitted_at", "answers")
ANSWER_FIELDS = {"item", "year", "value", "status", "comment"}


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [k for k, _ in pairs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"key(s) {', '.join(quote(k) for k in duplicates[:5])} appear twice in one object")
    return result


def _exact_int(text: str) -> int | InexactNumber:
    """A JSON integer as Python reads it exactly, or a marker when a double would round it (above 2**53)."""
    value = int(text)
    return value if abs(value) <= 2**53 or exact_float(value) is not None else InexactNumber(text)


def _exact_float(text: str) -> float | InexactNumber:
    """A JSON number with a fraction or exponent, or a marker when its digits do not fit a double."""
    value = exact_float(text)
    return InexactNumber(text) if value is None else value


def read_json_submission(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> ParsedSubmission:
    """Parse a JSON submission; structural problems are collected, a non-JSON file is rejected."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RejectedFile("not_json", f"is not UTF-8 text (byte {err.start})") from None
    try:
        doc = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_exact_int,
            parse_float=_exact_float,
            object_pairs_hook=_object_without_duplicate_keys,
        )
    except (json.JSONDecodeError, ValueError, RecursionError) as err:
        raise RejectedFile("not_json", f"is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise RejectedFile("bad_structure", "must be a JSON object with the submission fields")

    problems = ProblemList(limits.max_problems)
    for name in REQUIRED_FIELDS:
        if name not in doc:
            problems.append(Problem("missing_field", f"required field {name!r} is missing"))
    for name in sorted(set(doc) - TOP_LEVEL_FIELDS):
        problems.append(Problem("unknown_field", f"unknown field {quote(name)}"))

    answers: list[RawAnswer] = []
    raw_answers = doc.get("answers", [])
    if not isinstance(raw_answers, list):
        problems.append(Problem("bad_structure", "'answers' must be a list"))
        raw_answers = []
    disclosure = doc.get("disclosure", {})
    for name, entries in (("answers", raw_answers), ("disclosure choices", disclosure)):
        if isinstance(entries, list | dict) and len(entries) > limits.max_rows:
            raise RejectedFile(
                "too_many_rows",
                f"the file has {len(entries)} {name}, over the limit of {limits.max_rows}",
                member=doc.get("member"),  # the content says whose file it is: that member hears of it
            )
    for index, entry in enumerate(raw_answers):
        if problems.overflowed:
            break  # the file is rejected already; reading on only makes more messages
        where = Location(pointer=f"/answers/{index}")
        if not isinstance(entry, dict):
            problems.append(Problem("bad_structure", "an answer must be an object", where))
            continue
        extra = sorted(set(entry) - ANSWER_FIELDS)
        if extra:
            names = ", ".join(quote(k) for k in extra[:5])
            problems.append(Problem("unknown_field", f"unknown answer field(s) {names}", where))
        for name in ("item", "year"):
            if name not in entry:
                problems.append(Problem("missing_field", f"answer without {name!r}", where))
        answers.append(
            RawAnswer(
                item=entry.get("item"),
                year=entry.get("year"),
                value=entry.get("value"),
                status=entry.get("status"),
                comment=entry.get("comment"),
                location=where,
                has_value="value" in entry and entry["value"] is not None,
            )
        )

    return ParsedSubmission(
        format="json",
        format_name=doc.get("format"),
        format_version=doc.get("format_version"),
        member=doc.get("member"),
        cycle=doc.get("cycle"),
        submitted_at=doc.get("submitted_at"),
        answers=answers,
        disclosure=disclosure,
        problems=problems,
    )
