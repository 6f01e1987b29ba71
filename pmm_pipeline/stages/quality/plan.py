"""Which Great Expectations expectation checks what: the per-answer suites of a cycle planned from the
catalogue and the cycle, as data. Pure: nothing here imports Great Expectations (expectations.py runs a plan,
fast.py evaluates the same plan with pandas for a single file)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pmm_pipeline.core.vocabulary import ANSWER_STATUSES
from pmm_pipeline.specs.catalogue.models import Item, ItemType
from pmm_pipeline.specs.reference.models import Cycle

ANSWERS_BATCH = "answers"
EXPECTED_BATCH = "expected_answers"


@dataclass(frozen=True)
class PlannedExpectation:
    """One expectation: a Great Expectations class name and its arguments, tied to the rule it enforces.

    `where` restricts the rows checked: column -> value (equality) or list of values (membership).
    """

    batch: str
    rule: str
    check: str  # which part of the rule, keys the message a finding gets
    expectation: str
    kwargs: Mapping[str, Any]
    description: str
    where: Mapping[str, Any] = field(default_factory=dict)


def plan_expectations(cycle: Cycle, items: dict[str, Item]) -> list[PlannedExpectation]:
    """The per-answer suites of a cycle, from its catalogue version's items (see frames.prepare_answers)."""
    levels = sorted(f"{code}:{level.code}" for code, item in items.items() for level in item.answer_levels)
    categorical = sorted(code for code, item in items.items() if item.is_categorical)
    counts = sorted(code for code, item in items.items() if item.type == ItemType.count)
    parts = sorted(f"{code} ≤ {item.part_of}" for code, item in items.items() if item.part_of)
    bounds = sorted(
        f"{code} [{'' if item.min is None else f'{item.min:g}'}, {'' if item.max is None else f'{item.max:g}'}]"
        for code, item in items.items()
        if not item.is_categorical
    )
    a, e = ANSWERS_BATCH, EXPECTED_BATCH
    plan = [
        PlannedExpectation(
            a,
            "known_codes",
            "not_a_participant",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "submission_id", "column_B": "latest_submission_id", "ignore_row_if": "neither"},
            f"The answer is of the latest submission of a member participating in cycle {cycle.id}.",
        ),
        PlannedExpectation(
            a,
            "known_codes",
            "unknown_item",
            "ExpectColumnValuesToBeInSet",
            {"column": "item", "value_set": sorted(items)},
            f"The item is in catalogue version {cycle.catalogue_version}.",
        ),
        PlannedExpectation(
            a,
            "known_codes",
            "year_outside_cycle",
            "ExpectColumnValuesToBeInSet",
            {"column": "year", "value_set": list(cycle.years)},
            f"The year is T-1 or T of cycle {cycle.id}: {cycle.years[0]} or {cycle.years[1]}.",
        ),
        PlannedExpectation(
            a,
            "known_codes",
            "unknown_status",
            "ExpectColumnValuesToBeInSet",
            {"column": "status", "value_set": list(ANSWER_STATUSES)},
            "The status is reported, not_applicable or not_available.",
        ),
        PlannedExpectation(
            a,
            "known_codes",
            "unknown_level",
            "ExpectColumnValuesToBeInSet",
            {"column": "item_level", "value_set": levels},
            "A level answer is one of its item's levels (item:level): " + ", ".join(levels) + ".",
        ),
        PlannedExpectation(
            a,
            "one_answer_per_item_year",
            "duplicate_answer",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["member_code", "item", "year"]},
            "Each member answers each item once per year.",
        ),
        PlannedExpectation(
            a,
            "values_match_item_type",
            "reported_without_value",
            "ExpectColumnValuesToNotBeNull",
            {"column": "value"},
            "A reported answer carries a value.",
            {"status": "reported"},
        ),
        PlannedExpectation(
            a,
            "values_match_item_type",
            "value_with_other_status",
            "ExpectColumnValuesToBeNull",
            {"column": "value"},
            "A not_applicable or not_available answer carries no value.",
            {"status": ["not_applicable", "not_available"]},
        ),
        PlannedExpectation(
            a,
            "values_match_item_type",
            "count_not_whole",
            "ExpectColumnValuesToBeBetween",
            {"column": "count_fraction", "min_value": 0, "max_value": 0},
            "Counts are whole numbers: " + ", ".join(counts) + ".",
        ),
        PlannedExpectation(
            a,
            "values_within_range",
            "below_minimum",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "value",
                "column_B": "min_allowed",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
            "Values are within their item's range [min, max]: " + "; ".join(bounds) + ".",
        ),
        PlannedExpectation(
            a,
            "values_within_range",
            "above_maximum",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "max_allowed",
                "column_B": "value",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
            "Values are at most their item's max (percent items at most 100).",
        ),
        PlannedExpectation(
            a,
            "part_not_above_whole",
            "part_above_whole",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "whole_value",
                "column_B": "value",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
            "A part is not above its whole for the same year: " + "; ".join(parts) + ".",
        ),
        PlannedExpectation(
            e,
            "required_items_present",
            "missing_answer",
            "ExpectColumnValuesToNotBeNull",
            {"column": "status"},
            "Every item a KPI's formula uses is answered, with a value or a status.",
            {"rule": "required_items_present"},
        ),
        PlannedExpectation(
            e,
            "variation_years_present",
            "missing_previous_year",
            "ExpectColumnValuesToNotBeNull",
            {"column": "status"},
            f"Variation KPIs have their items answered for T-1 ({cycle.years[0]}) too.",
            {"rule": "variation_years_present"},
        ),
    ]
    if categorical:
        plan.append(
            PlannedExpectation(
                a,
                "values_match_item_type",
                "level_missing",
                "ExpectColumnValuesToNotBeNull",
                {"column": "value_text"},
                "A reported level or yes/no answer names its level.",
                {"status": "reported", "item": categorical},
            )
        )
    return plan
