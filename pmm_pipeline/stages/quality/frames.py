"""The frames the per-answer rules validate: staged answers with what the catalogue says about each, and the
answers the cycle's KPIs need from every participating member (present or not).

Each rule's parameters travel as columns (the item's min and max, the value of its whole, ...) so that one
vectorized expectation checks every item at once; a filter per item would cost a pass over the table per item
(measured: the range rule as one filtered expectation per item took ~25x longer on 800,000 answers).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pmm_pipeline.specs.catalogue.formula import Formula
from pmm_pipeline.specs.catalogue.models import Item, ItemType, KpiSpec, Shape
from pmm_pipeline.specs.reference.models import Cycle

PERCENT_MAX = 100.0
ANSWER_KEY = ["member_code", "item", "year"]


@dataclass(frozen=True)
class RequiredAnswer:
    """An answer a KPI's formula needs, and the rule that reports it when it is absent."""

    kpi_id: str
    item: str
    year: int
    rule: str


def required_answers(
    kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula], cycle: Cycle
) -> list[RequiredAnswer]:
    """Every (KPI, item, year) the cycle's formulas use; a variation's T-1 answers have their own rule."""
    needed: dict[tuple[str, str, int], str] = {}
    for kpi in kpis:
        for series in kpi.series:
            for ref in formulas[(kpi.id, series.id)].refs:
                is_previous_year_of_variation = kpi.shape == Shape.variation and ref.offset == -1
                rule = "variation_years_present" if is_previous_year_of_variation else "required_items_present"
                needed[(kpi.id, ref.item, cycle.reporting_year + ref.offset)] = rule
    return [RequiredAnswer(k, i, y, rule) for (k, i, y), rule in sorted(needed.items())]


def _item_bounds(items: dict[str, Item]) -> pd.DataFrame:
    rows = []
    for code, item in items.items():
        if item.is_categorical:
            continue  # a level's score is checked through its code, not a range
        maximum = item.max if item.max is not None else (PERCENT_MAX if item.type == ItemType.percent else None)
        rows.append(
            {
                "item": code,
                "min_allowed": np.nan if item.min is None else float(item.min),
                "max_allowed": np.nan if maximum is None else float(maximum),
                "whole_item": item.part_of,
                "is_count": item.type == ItemType.count,
            }
        )
    return pd.DataFrame(rows, columns=["item", "min_allowed", "max_allowed", "whole_item", "is_count"])


def prepare_answers(answers: pd.DataFrame, items: dict[str, Item], submissions: pd.DataFrame) -> pd.DataFrame:
    """The staged answers with `row_id` (position) and the columns the per-answer expectations compare.

    `latest_submission_id` is the submission the member participates with (NULL for a member that does not);
    `item_level` is `item:level` for answers naming a level; `whole_value` is the reported value of the
    item's whole for the same member and year; `count_fraction` is the fractional part of a count (0 for a
    whole number, NULL for other types). An item unknown to the catalogue gets no bounds, so only
    `known_codes` reports it.
    """
    bounds = _item_bounds(items).set_index("item")
    item = answers["item"]
    reported = answers[answers["status"].eq("reported") & answers["value"].notna()]
    wholes = reported.drop_duplicates(ANSWER_KEY).set_index(ANSWER_KEY)["value"]
    whole_item = item.map(bounds["whole_item"])
    whole_key = pd.MultiIndex.from_arrays([answers["member_code"], whole_item, answers["year"]], names=ANSWER_KEY)
    is_count = item.map(bounds["is_count"]).eq(True)
    prepared = answers.assign(
        latest_submission_id=answers["member_code"].map(submissions.set_index("member_code")["submission_id"]),
        item_level=item + ":" + answers["value_text"],
        min_allowed=item.map(bounds["min_allowed"]),
        max_allowed=item.map(bounds["max_allowed"]),
        whole_item=whole_item,
        whole_value=wholes.reindex(whole_key).to_numpy(),
        count_fraction=np.where(is_count, np.mod(answers["value"], 1.0), np.nan),
    ).reset_index(drop=True)
    prepared.insert(0, "row_id", np.arange(len(prepared), dtype="int64"))
    return prepared


def expected_answers(answers: pd.DataFrame, members: list[str], required: list[RequiredAnswer]) -> pd.DataFrame:
    """One row per participating member and required answer, with the answer's status (NULL when absent)."""
    needed = pd.DataFrame(
        [(r.kpi_id, r.item, r.year, r.rule) for r in required], columns=["kpi_id", "item", "year", "rule"]
    )
    grid = pd.DataFrame({"member_code": members}).merge(needed, how="cross")
    present = answers.drop_duplicates(ANSWER_KEY).set_index(ANSWER_KEY)["status"]
    grid["status"] = present.reindex(pd.MultiIndex.from_frame(grid[ANSWER_KEY])).to_numpy()
    grid.insert(0, "row_id", np.arange(len(grid), dtype="int64"))
    return grid
