"""Reading the JSON interchange format (version 1) of `../shared/contract.md` into a ParsedSubmission."""

import json
from typing import Any

from pmm_pipeline.ingestion.limits import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.ingestion.submission import (
    Location,
    ParsedSubmission,
    Problem,
    RawAnswer,
    RejectedFile,
)

TOP_LEVEL_FIELDS = {"format", "format_version", "member", "cycle", "submitted_at", "answers", "disclosure"}
REQUIRED_FIELDS = ("format", "format_version", "member", "cycle", "submitted_at", "answers")
ANSWER_FIELDS = {"item", "year", "value", "status", "comment"}


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"key(s) {', '.join(map(repr, duplicates))} appear twice in one object")
    return dict(pairs)


def read_json_submission(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> ParsedSubmission:
    """Parse a JSON submission; structural problems are collected, a non-JSON file is rejected."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RejectedFile("not_json", f"is not UTF-8 text (byte {err.start})") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_without_duplicate_keys)
    except (json.JSONDecodeError, ValueError, RecursionError) as err:
        raise RejectedFile("not_json", f"is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise RejectedFile("bad_structure", "must be a JSON object with the submission fields")

    problems: list[Problem] = []
    for name in REQUIRED_FIELDS:
        if name not in doc:
            problems.append(Problem("missing_field", f"required field {name!r} is missing"))
    for name in sorted(set(doc) - TOP_LEVEL_FIELDS):
        problems.append(Problem("unknown_field", f"unknown field {name!r}"))

    answers: list[RawAnswer] = []
    raw_answers = doc.get("answers", [])
    if not isinstance(raw_answers, list):
        problems.append(Problem("bad_structure", "'answers' must be a list"))
        raw_answers = []
    if len(raw_answers) > limits.max_rows:
        raise RejectedFile("too_many_rows", f"the file has {len(raw_answers)} answers, over the limit of {limits.max_rows}")
    for index, entry in enumerate(raw_answers):
        where = Location(pointer=f"/answers/{index}")
        if not isinstance(entry, dict):
            problems.append(Problem("bad_structure", "an answer must be an object", where))
            continue
        extra = sorted(set(entry) - ANSWER_FIELDS)
        if extra:
            problems.append(Problem("unknown_field", f"unknown answer field(s) {extra}", where))
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
        disclosure=doc.get("disclosure", {}),
        problems=problems,
    )
