"""Realistic synthetic submissions of a cycle: who takes part, their figures, answer states and disclosure choices."""

import datetime as dt
import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item, ItemType
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle, Membership
from pmm_pipeline.stages.ingestion.submission import FORMAT_NAME, FORMAT_VERSION

AnswerKey = tuple[str, int]


Value = int | float | str


PARTICIPATION_RATE = 2 / 3


MIN_PARTICIPANTS = 2


NOT_APPLICABLE_KPI_RATE = 0.075


NOT_AVAILABLE_ANSWER_RATE = 0.05


EXPLICIT_REPORTED_RATE = 0.1


RESUBMISSION_RATE = 0.05


YEAR_ON_YEAR_CHANGE = 0.15


DRAFT_CHANGE = 0.05


# Log size of an administration is drawn around these centres: richer economies trade more,
# so their Customs handle more declarations, staff and revenue.
INCOME_SIZE_SHIFT = {"low": -1.4, "lower_middle": -0.8, "upper_middle": -0.3, "high": 0.5}


SIZE_SPREAD = 0.9


# Each item strays a little from the member's size, so that not every figure is equally large.
ITEM_SPREAD = 0.1


LEVEL_SPREAD = 0.25


# Share of its whole that a part plausibly takes; an item missing here gets DEFAULT_PART_SHARE.
PART_SHARES: dict[str, tuple[float, float]] = {
    "declarations_electronic": (0.6, 1.0),
    "declarations_physical_inspection": (0.02, 0.35),
    "import_value_aeo": (0.1, 0.7),
    "export_value_aeo": (0.1, 0.7),
    "import_shipments_ecommerce": (0.05, 0.6),
    "export_shipments_ecommerce": (0.01, 0.3),
    "data_elements_wco_dm": (0.3, 1.0),
    "pca_controls_with_findings": (0.05, 0.4),
    "drug_controls_with_seizure": (0.01, 0.2),
    "tax_revenue_customs": (0.05, 0.45),
    "customs_revenue_paid_electronically": (0.5, 1.0),
    "pca_revenue_recovered": (0.002, 0.05),
    "staff_female": (0.2, 0.55),
    "staff_trained": (0.1, 0.8),
}


DEFAULT_PART_SHARE = (0.05, 0.6)


# Used only for an item whose spec declares no `typical` range.
FALLBACK_TYPICAL: dict[ItemType, tuple[float, float]] = {
    ItemType.count: (10, 100_000),
    ItemType.amount: (1_000_000, 10_000_000_000),
    ItemType.duration: (1, 100),
    ItemType.percent: (0, 100),
}


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


@dataclass(frozen=True)
class _CyclePlan:
    """What a complete submission of the cycle answers, derived once from the catalogue."""

    cycle: Cycle
    items: dict[str, Item]
    answer_keys: tuple[AnswerKey, ...]
    kpi_needs: dict[str, frozenset[AnswerKey]]


def _plan_cycle(catalogue: Catalogue, cycle: Cycle) -> _CyclePlan:
    t_minus_1, t = cycle.years
    kpis = sorted(catalogue.kpis_for_version(cycle.catalogue_version), key=lambda k: k.id)
    kpi_needs = {
        kpi.id: frozenset(
            (ref.item, t + ref.offset) for series in kpi.series for ref in catalogue.formulas[(kpi.id, series.id)].refs
        )
        for kpi in kpis
    }
    needed_at_t_minus_1 = {item for needs in kpi_needs.values() for item, year in needs if year == t_minus_1}
    answer_keys: list[AnswerKey] = []
    for code in catalogue.items_for_version(cycle.catalogue_version):
        answer_keys.append((code, t))
        if code in needed_at_t_minus_1:
            answer_keys.append((code, t_minus_1))
    # Wholes of parts may belong to KPIs outside this version; values are still drawn for them.
    return _CyclePlan(cycle, dict(catalogue.items), tuple(answer_keys), kpi_needs)


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


def _clip(x: float, low: float | None, high: float | None) -> float:
    if low is not None:
        x = max(x, low)
    if high is not None:
        x = min(x, high)
    return x


def _as_answer_value(item: Item, x: float) -> int | float:
    x = _clip(x, item.min, item.max)
    if item.type in (ItemType.count, ItemType.amount):
        return int(round(x))
    if item.type == ItemType.duration:
        return round(x, 1)
    return round(x, 2)


class _ValueDrawer:
    """Draws one member's values item by item; a part is drawn after its whole, for the same year."""

    def __init__(self, plan: _CyclePlan, rng: random.Random, size_position: float):
        self.plan = plan
        self.rng = rng
        self.size_position = size_position
        self.values: dict[AnswerKey, Value] = {}
        self.shares: dict[AnswerKey, float] = {}

    def value(self, code: str, year: int) -> Value:
        key = (code, year)
        if key not in self.values:
            self.values[key] = self._draw(self.plan.items[code], year)
        return self.values[key]

    def _draw(self, item: Item, year: int) -> Value:
        t = self.plan.cycle.reporting_year
        if item.is_categorical:
            if year != t:
                return self.value(item.code, t)
            return self._level(item)
        if item.part_of is not None:
            whole = self.value(item.part_of, year)
            assert isinstance(whole, (int, float))
            part = _as_answer_value(item, whole * self._share(item, year))
            return min(part, whole)
        if year != t:
            change = self.rng.uniform(-YEAR_ON_YEAR_CHANGE, YEAR_ON_YEAR_CHANGE)
            current = self.value(item.code, t)
            assert isinstance(current, (int, float))
            return _as_answer_value(item, current / (1 + change))
        return _as_answer_value(item, self._standalone(item))

    def _standalone(self, item: Item) -> float:
        low, high = item.typical or FALLBACK_TYPICAL[item.type]
        if item.type == ItemType.percent:
            return self.rng.uniform(low, high)
        if item.type == ItemType.duration:
            position = self.rng.random()  # release times depend on procedures, not on size
        else:
            position = _clip(self.size_position + self.rng.gauss(0, ITEM_SPREAD), 0, 1)
        low = max(low, 1e-9)
        return math.exp(math.log(low) + position * (math.log(max(high, low)) - math.log(low)))

    def _share(self, item: Item, year: int) -> float:
        key = (item.code, year)
        if key not in self.shares:
            t = self.plan.cycle.reporting_year
            if year == t:
                low, high = PART_SHARES.get(item.code, DEFAULT_PART_SHARE)
                self.shares[key] = self.rng.uniform(low, high)
            else:
                self.shares[key] = _clip(self._share(item, t) * self.rng.uniform(0.95, 1.05), 0, 1)
        return self.shares[key]

    def _level(self, item: Item) -> str:
        levels = sorted(item.answer_levels, key=lambda lv: lv.score)
        position = _clip(self.size_position + self.rng.gauss(0, LEVEL_SPREAD), 0, 1)
        return levels[min(int(position * len(levels)), len(levels) - 1)].code


def _lineage(items: dict[str, Item], code: str) -> list[str]:
    """The item, its whole, the whole's whole, and so on."""
    chain = [code]
    while (whole := items[chain[-1]].part_of) is not None:
        chain.append(whole)
    return chain


def _draft_values(plan: _CyclePlan, values: dict[AnswerKey, Value], rng: random.Random) -> dict[AnswerKey, Value]:
    """Slightly different earlier figures; a whole and its parts move by one factor, so parts stay within."""
    factors: dict[str, float] = {}
    draft: dict[AnswerKey, Value] = {}
    for code, year in sorted(values, key=lambda key: (len(_lineage(plan.items, key[0])), key)):
        item = plan.items[code]
        value = values[(code, year)]
        if item.is_categorical or isinstance(value, str):
            draft[(code, year)] = value
            continue
        root = _lineage(plan.items, code)[-1]
        if root not in factors:
            factors[root] = rng.uniform(1 - DRAFT_CHANGE, 1 + DRAFT_CHANGE)
        revised = _as_answer_value(item, value * factors[root])
        if item.part_of is not None and (item.part_of, year) in draft:
            whole = draft[(item.part_of, year)]
            assert isinstance(whole, (int, float))
            revised = min(revised, whole)
        draft[(code, year)] = revised
    return draft


def _answer_states(plan: _CyclePlan, rng: random.Random) -> dict[AnswerKey, tuple[str, str | None]]:
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


def _answers(
    plan: _CyclePlan,
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


def _disclosure(kpi_ids: Iterable[str], rng: random.Random) -> dict[str, str]:
    levels = [level for level, _ in DISCLOSURE_WEIGHTS]
    weights = [weight for _, weight in DISCLOSURE_WEIGHTS]
    chosen = {kpi_id: rng.choices(levels, weights)[0] for kpi_id in kpi_ids}
    return {kpi_id: level for kpi_id, level in chosen.items() if level is not None}


def collection_window(cycle: Cycle) -> tuple[dt.datetime, dt.datetime]:
    opens = dt.datetime.combine(cycle.collection.opens, dt.time(0, 0, 0), dt.UTC)
    closes = dt.datetime.combine(cycle.collection.closes, dt.time(23, 59, 59), dt.UTC)
    return opens, closes


def moment_between(start: dt.datetime, end: dt.datetime, rng: random.Random, low: float, high: float) -> dt.datetime:
    """A moment between start and end, at a random fraction in [low, high] of the way, whole seconds."""
    seconds = (end - start).total_seconds() * rng.uniform(low, high)
    return start + dt.timedelta(seconds=max(1, int(seconds)))


def format_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


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


def _size_position(membership: Membership, rng: random.Random) -> float:
    """Where the member sits between a small and a large administration, from 0 to 1."""
    log_size = rng.gauss(INCOME_SIZE_SHIFT.get(membership.income_group, 0.0), SIZE_SPREAD)
    return 1 / (1 + math.exp(-log_size))


def _member_documents(
    plan: _CyclePlan, membership: Membership, rng: random.Random, resubmits: bool
) -> list[dict[str, Any]]:
    drawer = _ValueDrawer(plan, rng, _size_position(membership, rng))
    for code, year in plan.answer_keys:
        drawer.value(code, year)
    states = _answer_states(plan, rng)
    explicit_reported = {key for key in plan.answer_keys if rng.random() < EXPLICIT_REPORTED_RATE}
    disclosure = _disclosure(plan.kpi_needs, rng)
    opens, closes = collection_window(plan.cycle)
    # The latest version leaves room after it for a later, broken file (see corrupt_documents).
    latest_at = moment_between(opens, closes, rng, 0.05, 0.85)
    member = membership.member_code
    latest_answers = _answers(plan, drawer.values, states, explicit_reported)
    latest = _document(member, plan.cycle, latest_at, latest_answers, disclosure)
    if not resubmits:
        return [latest]
    draft_values = _draft_values(plan, drawer.values, rng)
    draft_at = moment_between(opens, latest_at, rng, 0.1, 0.9)
    draft_answers = _answers(plan, draft_values, states, explicit_reported)
    draft = _document(member, plan.cycle, draft_at, draft_answers, disclosure)
    return [draft, latest]


def build_sample_documents(
    reference: Reference, catalogue: Catalogue, cycle_id: str, members: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Contract-format submissions of the participating members, sorted by member then submitted_at."""
    cycle = reference.cycles.get(cycle_id)
    in_force = reference.members_in_force(cycle)
    selected = select_members(reference, cycle_id, members, seed)
    plan = _plan_cycle(catalogue, cycle)
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
