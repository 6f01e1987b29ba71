"""The quality gate's inputs for one valid synthetic cycle and the same cycle with one defect of every rule: the
module-scoped fixtures `baseline` (a valid cycle read through the real intake checks) and `seeded` (one seeded
defect per rule, with the findings expected of it by hand), and the `Seeder` and `evaluate` they are built with.
Imported, fixtures included, by test_quality_rules.py and by
pmm_pipeline_tests/stages/feedback/test_member_facing_texts.py.
"""

import dataclasses
import hashlib
from typing import Any

import pandas as pd
import pytest

from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.reading import read_submission
from pmm_pipeline.stages.quality.gate import GateInputs, GateOutcome, empty_history, evaluate_quality
from pmm_pipeline.stages.sample.documents import build_sample_documents, latest_documents, render_json
from pmm_pipeline.stages.staging.select import membership_frame
from pmm_pipeline.warehouse.tables import STAGED_ANSWERS

CYCLE = "2023"
T, T1 = 2022, 2021


@pytest.fixture(scope="module")
def baseline(reference: Reference, catalogue: Catalogue) -> GateInputs:
    """A valid cycle: every participating member's latest sample submission, read by the real intake."""
    ctx = validation_context(reference, catalogue, CYCLE)
    regions = membership_frame(reference, reference.cycles.get(CYCLE)).set_index("member_code")["region_code"]
    answers, submissions = [], []
    documents = latest_documents(build_sample_documents(reference, catalogue, CYCLE, seed=3))
    for member, document in sorted(documents.items()):
        data = render_json(document)
        submission, problems = read_submission(f"{member}.json", data, ctx)
        assert submission is not None, problems
        sha = hashlib.sha256(data).hexdigest()
        submissions.append(
            {"member_code": member, "submission_id": sha, "file_name": f"{member}.json", "region_code": regions[member]}
        )
        for a in submission.answers:
            answers.append(
                {
                    "cycle": CYCLE,
                    "member_code": member,
                    "item": a.item,
                    "year": a.year,
                    "value": a.value,
                    "value_text": a.value_text,
                    "status": a.status,
                    "comment": a.comment,
                    "submission_id": sha,
                    "version": 1,
                    "source_file": f"{member}.json",
                    "source_pointer": a.location.pointer,
                    "source_sheet": None,
                    "source_cell": None,
                    "source_line": None,
                }
            )
    return GateInputs(
        answers=pd.DataFrame(answers, columns=STAGED_ANSWERS.column_names).astype({"source_line": "Int64"}),
        submissions=pd.DataFrame(submissions),
        history=empty_history(),
    )


def evaluate(inputs: GateInputs, reference: Reference, catalogue: Catalogue) -> GateOutcome:
    return evaluate_quality(inputs, reference.cycles.get(CYCLE), catalogue)


class Seeder:
    """Seeds defects into a copy of the baseline, each in a member not used before."""

    def __init__(self, inputs: GateInputs):
        self.answers = inputs.answers.copy()
        self.inputs = inputs
        self.used: set[str] = set()

    def reported(self, member: str, item: str, year: int) -> pd.Series:
        a = self.answers
        return (a.member_code == member) & (a["item"] == item) & (a.year == year) & (a.status == "reported")

    def member_with(self, *needed: tuple[str, int], region: str | None = None) -> str:
        regions = self.inputs.submissions.set_index("member_code")["region_code"]
        for member in sorted(set(self.answers.member_code) - self.used):
            if region and regions[member] != region:
                continue
            if all(self.reported(member, item, year).any() for item, year in needed):
                self.used.add(member)
                return member
        raise AssertionError(f"no member left with {needed}")

    def value(self, member: str, item: str, year: int) -> float:
        return float(self.answers.loc[self.reported(member, item, year), "value"].iloc[0])

    def set(self, member: str, item: str, year: int, **columns: Any) -> None:
        for column, value in columns.items():
            self.answers.loc[self.reported(member, item, year), column] = value

    def drop(self, member: str, item: str, year: int) -> None:
        a = self.answers
        self.answers = a[~((a.member_code == member) & (a["item"] == item) & (a.year == year))]

    def duplicate(self, member: str, item: str, year: int) -> None:
        copy = self.answers[self.reported(member, item, year)].assign(source_pointer="/answers/999")
        self.answers = pd.concat([self.answers, copy], ignore_index=True)

    def inputs_with(self, history: pd.DataFrame | None = None) -> GateInputs:
        return dataclasses.replace(
            self.inputs,
            answers=self.answers.reset_index(drop=True),
            history=self.inputs.history if history is None else history,
        )


@pytest.fixture(scope="module")
def seeded(baseline: GateInputs, reference: Reference, catalogue: Catalogue):
    """One defect of every rule, each in its own member; returns (outcome, member by rule, expected findings)."""
    s = Seeder(baseline)
    m = {}
    m["known_codes"] = s.member_with(("risk_management_level", T))
    s.set(m["known_codes"], "risk_management_level", T, value_text="sometimes")
    m["one_answer_per_item_year"] = s.member_with(("declarations_total", T))
    m["values_match_item_type"] = s.member_with(("staff_total", T))
    staff = s.value(m["values_match_item_type"], "staff_total", T)
    s.set(m["values_match_item_type"], "staff_total", T, value=staff + 0.5)
    m["values_within_range"] = s.member_with(("integrity_cases", T))
    s.set(m["values_within_range"], "integrity_cases", T, value=-3.0)
    m["part_not_above_whole"] = s.member_with(("declarations_electronic", T), ("declarations_total", T))
    whole = s.value(m["part_not_above_whole"], "declarations_total", T)
    s.set(m["part_not_above_whole"], "declarations_electronic", T, value=whole + 10)
    m["required_items_present"] = s.member_with(("data_elements_wco_dm", T))
    s.drop(m["required_items_present"], "data_elements_wco_dm", T)
    m["variation_years_present"] = s.member_with(("rfi_count", T), ("rfi_count", T1))
    s.drop(m["variation_years_present"], "rfi_count", T1)
    m["yoy_change_within_band"] = s.member_with(("alcohol_seizures", T), ("alcohol_seizures", T1))
    tripled = 3 * s.value(m["yoy_change_within_band"], "alcohol_seizures", T1)  # band 100 %: +200 %
    s.set(m["yoy_change_within_band"], "alcohol_seizures", T, value=tripled, comment="a new border post opened")
    m["t_minus_1_matches_earlier_cycle"] = s.member_with(("aeo_count", T1))
    previous = s.value(m["t_minus_1_matches_earlier_cycle"], "aeo_count", T1) + 7
    m["value_near_peer_median"] = s.member_with(("declarations_electronic", T), ("declarations_total", T), region="EUR")
    s.set(m["value_near_peer_median"], "declarations_electronic", T, value=1.0)
    m["magnitude_consistent_with_history"] = s.member_with(("aeo_count", T), ("aeo_count", T1))
    slipped = 1000 * s.value(m["magnitude_consistent_with_history"], "aeo_count", T)
    s.set(m["magnitude_consistent_with_history"], "aeo_count", T, value=slipped)
    # The duplicate last, so that no other seeding sees two rows.
    s.duplicate(m["one_answer_per_item_year"], "declarations_total", T)

    history = pd.DataFrame(
        [
            {
                "cycle": "2021",
                "cycle_rank": 1,
                "member_code": m["t_minus_1_matches_earlier_cycle"],
                "item": "aeo_count",
                "year": T1,
                "value": previous,
            }
        ]
    )
    outcome = evaluate(s.inputs_with(history), reference, catalogue)
    # (rule, severity, KPI, item, year) of each expected finding, by hand.
    expected = {
        "known_codes": [("blocking", None, "risk_management_level", T)],
        "one_answer_per_item_year": [("blocking", None, "declarations_total", T)] * 2,  # both copies
        "values_match_item_type": [("blocking", None, "staff_total", T)],
        "values_within_range": [("blocking", None, "integrity_cases", T)],
        "part_not_above_whole": [("blocking", None, "declarations_electronic", T)],
        "required_items_present": [("warning", "data_standardization", "data_elements_wco_dm", T)],
        "variation_years_present": [("warning", "rfi_variation", "rfi_count", T1)],
        "yoy_change_within_band": [("warning", "alcohol_seizure_variation", "alcohol_seizures", T)],
        "t_minus_1_matches_earlier_cycle": [("warning", None, "aeo_count", T1)],
        "value_near_peer_median": [("warning", "electronic_declaration_rate", "declarations_electronic", T)],
        "magnitude_consistent_with_history": [("warning", None, "aeo_count", T)],
    }
    return outcome, m, expected
