"""A sample member's answers in the contract format: which are not applicable or not available, and its disclosure."""

import random
from collections.abc import Iterable
from typing import Any

from pmm_pipeline.stages.sample.plan import AnswerKey, CyclePlan, Value

NOT_APPLICABLE_KPI_RATE = 0.075


NOT_AVAILABLE_ANSWER_RATE = 0.05


DISCLOSURE_WEIGHTS: tuple[tuple[str | None, float], ...] = (
    ("public", 0.55),
    ("wco", 0.25),
    ("secretariat", 0.10),
    (None, 0.10),  # left out of the file, which means secretariat
)


NOT_APPLICABLE_COMMENTS = (
    "not measured by this administration",
    "outside the mandate of Customs in this country",
    "no separate records are kept",
)


NOT_AVAILABLE_COMMENTS = ("figures not yet consolidated", "data held by another agency")


def draw_answer_states(plan: CyclePlan, rng: random.Random) -> dict[AnswerKey, tuple[str, str | None]]:
    """(status, comment) of the answers that are not reported."""
    declined = [kpi_id for kpi_id in plan.kpi_needs if rng.random() < NOT_APPLICABLE_KPI_RATE]
    still_needed: set[AnswerKey] = set().union(
        *(needs for kpi_id, needs in plan.kpi_needs.items() if kpi_id not in declined)
    )
    states: dict[AnswerKey, tuple[str, str | None]] = {}
    for kpi_id in declined:
        # An answer another applicable KPI uses stays reported: the member does measure it.
        comment = rng.choice(NOT_APPLICABLE_COMMENTS)
        for key in sorted(plan.kpi_needs[kpi_id] - still_needed):
            states[key] = ("not_applicable", comment)
    for key in plan.answer_keys:
        if key not in states and rng.random() < NOT_AVAILABLE_ANSWER_RATE:
            comment = rng.choice(NOT_AVAILABLE_COMMENTS) if rng.random() < 0.5 else None
            states[key] = ("not_available", comment)
    return states


def contract_answers(
    plan: CyclePlan,
    values: dict[AnswerKey, Value],
    states: dict[AnswerKey, tuple[str, str | None]],
    explicit_reported: set[AnswerKey],
) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    for code, year in plan.answer_keys:
        answer: dict[str, Any] = {"item": code, "year": year}
        if (code, year) in states:
            status, comment = states[(code, year)]
            answer["status"] = status
            if comment:
                answer["comment"] = comment
        else:
            answer["value"] = values[(code, year)]
            if (code, year) in explicit_reported:
                answer["status"] = "reported"
        answers.append(answer)
    return answers


def draw_disclosure(kpi_ids: Iterable[str], rng: random.Random) -> dict[str, str]:
    levels = [level for level, _ in DISCLOSURE_WEIGHTS]
    weights = [weight for _, weight in DISCLOSURE_WEIGHTS]
    chosen = {kpi_id: rng.choices(levels, weights)[0] for kpi_id in kpi_ids}
    return {kpi_id: level for kpi_id, level in chosen.items() if level is not None}
