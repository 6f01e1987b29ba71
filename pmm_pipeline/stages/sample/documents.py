"""Realistic synthetic submissions of a cycle: who takes part, who resubmits, and the versions each one sends."""

import datetime as dt
import json
import random
from collections.abc import Iterable
from typing import Any

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle, Membership
from pmm_pipeline.stages.ingestion.submission import FORMAT_NAME, FORMAT_VERSION
from pmm_pipeline.stages.sample.answers import contract_answers, draw_answer_states, draw_disclosure
from pmm_pipeline.stages.sample.figures import ValueDrawer, draw_draft_values, draw_size_position
from pmm_pipeline.stages.sample.moments import collection_window, format_timestamp, moment_between, parse_timestamp
from pmm_pipeline.stages.sample.plan import CyclePlan, plan_cycle

PARTICIPATION_RATE = 2 / 3


MIN_PARTICIPANTS = 2


EXPLICIT_REPORTED_RATE = 0.1


RESUBMISSION_RATE = 0.05


def _member_rng(seed: int, cycle_id: str, member: str) -> random.Random:
    # One stream per member, so a member's submission does not change when others are added.
    return random.Random(f"pmm-sample:{seed}:{cycle_id}:{member}")


def select_members(reference: Reference, cycle_id: str, members: int | None = None, seed: int = 0) -> list[str]:
    """Codes of the members asked to take part, sorted: all in force, or N of them chosen by seed."""
    in_force = sorted(reference.members_in_force(reference.cycles.get(cycle_id)))
    if members is None:
        return in_force
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members}")
    if members > len(in_force):
        raise ValueError(f"members={members} is more than the {len(in_force)} members in force for cycle {cycle_id}")
    shuffled = list(in_force)
    random.Random(f"pmm-sample:{seed}:{cycle_id}:selection").shuffle(shuffled)
    return sorted(shuffled[:members])


def _document(
    member: str,
    cycle: Cycle,
    submitted_at: dt.datetime,
    answers: list[dict[str, Any]],
    disclosure: dict[str, str],
) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "member": member,
        "cycle": cycle.id,
        "submitted_at": format_timestamp(submitted_at),
        "answers": answers,
        "disclosure": disclosure,
    }


def _member_documents(
    plan: CyclePlan, membership: Membership, rng: random.Random, resubmits: bool
) -> list[dict[str, Any]]:
    drawer = ValueDrawer(plan, rng, draw_size_position(membership, rng))
    for code, year in plan.answer_keys:
        drawer.value(code, year)
    states = draw_answer_states(plan, rng)
    explicit_reported = {key for key in plan.answer_keys if rng.random() < EXPLICIT_REPORTED_RATE}
    disclosure = draw_disclosure(plan.kpi_needs, rng)
    opens, closes = collection_window(plan.cycle)
    # The latest version leaves room after it for a later, broken file (see corrupt_documents).
    latest_at = moment_between(opens, closes, rng, 0.05, 0.85)
    member = membership.member_code
    latest_answers = contract_answers(plan, drawer.values, states, explicit_reported)
    latest = _document(member, plan.cycle, latest_at, latest_answers, disclosure)
    if not resubmits:
        return [latest]
    draft_values = draw_draft_values(plan, drawer.values, rng)
    draft_at = moment_between(opens, latest_at, rng, 0.1, 0.9)
    draft_answers = contract_answers(plan, draft_values, states, explicit_reported)
    draft = _document(member, plan.cycle, draft_at, draft_answers, disclosure)
    return [draft, latest]


def build_sample_documents(
    reference: Reference, catalogue: Catalogue, cycle_id: str, members: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Contract-format submissions of the participating members, sorted by member then submitted_at."""
    cycle = reference.cycles.get(cycle_id)
    in_force = reference.members_in_force(cycle)
    selected = select_members(reference, cycle_id, members, seed)
    plan = plan_cycle(catalogue, cycle)
    rngs = {code: _member_rng(seed, cycle_id, code) for code in selected}
    participates = {code: rngs[code].random() < PARTICIPATION_RATE for code in selected}
    resubmits = {code: rngs[code].random() < RESUBMISSION_RATE for code in selected}

    selection_rng = random.Random(f"pmm-sample:{seed}:{cycle_id}:adjustments")
    # A tiny sample must still show something to compare, and resubmission must always be exercised.
    wanted = min(MIN_PARTICIPANTS, len(selected))
    abstaining = [code for code in selected if not participates[code]]
    selection_rng.shuffle(abstaining)
    while sum(participates.values()) < wanted:
        participates[abstaining.pop()] = True
    participating = [code for code in selected if participates[code]]
    if participating and not any(resubmits[code] for code in participating):
        resubmits[selection_rng.choice(participating)] = True

    documents: list[dict[str, Any]] = []
    for code in participating:
        documents.extend(_member_documents(plan, in_force[code], rngs[code], resubmits[code]))
    return documents


def latest_documents(documents: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest version of each member's submission, by member code."""
    latest: dict[str, dict[str, Any]] = {}
    for document in documents:
        member = document["member"]
        moment = parse_timestamp(document["submitted_at"])
        if member not in latest or moment > parse_timestamp(latest[member]["submitted_at"]):
            latest[member] = document
    return latest


def render_json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
