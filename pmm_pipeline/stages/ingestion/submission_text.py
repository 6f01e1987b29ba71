"""Every text of a parsed submission normalised (text.py), and a problem naming its place for each one refused."""

import dataclasses

from pmm_pipeline.stages.ingestion.locations import disclosure_location, field_location, pointer_part
from pmm_pipeline.stages.ingestion.submission import ParsedSubmission, Problem
from pmm_pipeline.stages.ingestion.text import TextIssue, normalise_tree, quote

_ANSWER_FIELDS = ("item", "year", "value", "status", "comment")


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
                where = dataclasses.replace(where, pointer="/".join([where.pointer, *map(pointer_part, path[2:])]))
        elif len(path) > 2 and path[2] == "location":
            what = "the sheet name of an answer"
        return Problem(issue.code, f"{what} {issue.detail}", where, item=raw.item, year=raw.year)
    if head in ("disclosure", "disclosure_locations") and len(path) > 1:
        key = path[1]
        where = disclosure_location(parsed, key) if key != "(key)" else field_location(parsed, "disclosure")
        what = "a KPI id of the disclosure" if key == "(key)" else f"the disclosure of {quote(key)}"
        return Problem(issue.code, f"{what} {issue.detail}", where)
    if head in ("contact", "template", "field_locations") and len(path) > 1:
        name = str(path[1])
        return Problem(issue.code, f"the {name} field {issue.detail}", field_location(parsed, name))
    name = str(head) if head is not None else "file"
    return Problem(issue.code, f"the {name} field {issue.detail}", field_location(parsed, name))


def normalise_text(parsed: ParsedSubmission, max_length: int) -> tuple[ParsedSubmission, list[Problem]]:
    """`parsed` with every text in it normalised, and a problem for each text that cannot be taken in.

    The one choke point for text: every reader's ParsedSubmission passes here before any check
    reads it, so that a field a reader adds later is covered too (text.py walks every field).
    """
    issues: list[TextIssue] = []
    normalised = normalise_tree(parsed, max_length, issues, skip=lambda name: name == "problems")
    return normalised, [_text_problem(issue, parsed) for issue in issues]
