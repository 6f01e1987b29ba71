"""What one rejection may put on record: its problems bounded in number and in length, and one line for people.

The reason file beside a quarantined copy (stages/ingestion/quarantine.py) and raw.rejections keep the first
problems, each message bounded and storable, and how many were left out; the one-line message names the first few.
"""

import dataclasses

from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.text import storable_text

# What one rejection may put on record: a file with 36 000 problems must not make a 45 MB reason file,
# a 54 MB log event or a row nobody can read. The counts of what was left out are recorded.
MAX_PROBLEMS_RECORDED = 200
MAX_PROBLEMS_IN_MESSAGE = 10
MAX_PROBLEM_MESSAGE_CHARS = 500


def _bounded(problem: Problem) -> Problem:
    message = storable_text(problem.message)
    if len(message) > MAX_PROBLEM_MESSAGE_CHARS:
        message = message[: MAX_PROBLEM_MESSAGE_CHARS - 20] + f" ... ({len(message)} characters)"
    value = problem.value
    if isinstance(value, str):
        value = storable_text(value)[:MAX_PROBLEM_MESSAGE_CHARS]
    item = storable_text(problem.item)[:MAX_PROBLEM_MESSAGE_CHARS] if isinstance(problem.item, str) else problem.item
    return dataclasses.replace(problem, message=message, value=value, item=item)


def bounded_problems(problems: list[Problem]) -> tuple[list[Problem], int]:
    """The problems recorded for a file (each message bounded and storable), and how many were left out."""
    kept = [_bounded(p) for p in problems[:MAX_PROBLEMS_RECORDED]]
    return kept, max(len(problems) - MAX_PROBLEMS_RECORDED, 0)


def problems_message(problems: list[Problem]) -> str:
    """One line for people: the first problems in words, and how many more there are."""
    shown = [_bounded(p).message for p in problems[:MAX_PROBLEMS_IN_MESSAGE]]
    more = len(problems) - len(shown)
    return "; ".join(shown) + (f"; and {more} more problem(s), listed in the reason file" if more > 0 else "")


def listed_problems(problems: list[Problem]) -> list[dict]:
    """The problems as raw.rejections.problems holds them: bounded, and one entry saying how many were left out."""
    kept, left_out = bounded_problems(problems)
    return [p.as_dict() for p in kept] + (
        [{"code": "problems_left_out", "message": f"{left_out} more problem(s) not listed"}] if left_out else []
    )
