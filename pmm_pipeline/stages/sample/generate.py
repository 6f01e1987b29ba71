"""Realistic synthetic submissions of a cycle, valid and deliberately broken, for its landing folder."""

import copy
import dataclasses
import datetime as dt
import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item, ItemType, Shape
from pmm_pipeline.core.files import write_atomically
from pmm_pipeline.stages.ingestion.submission import FORMAT_NAME, FORMAT_VERSION
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle, Membership
from pmm_pipeline.stages.sample.formats import SampleContext, csv_writer, xlsx_writer

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

ERROR_KINDS = (
    "not_json",
    "unsupported_format_version",
    "unknown_member",
    "cycle_mismatch",
    "unknown_item",
    "year_out_of_range",
    "bad_status",
    "not_a_number",
    "duplicate_answer",
    "empty_file",
)
UNKNOWN_MEMBER_CODE = "XXX"  # user-assigned in ISO 3166-1, so never a real member


@dataclass(frozen=True)
class ErroneousFile:
    """A broken file a member also sent; `expected_reason` is the code intake must reject it with."""

    member: str
    file_name: str
    data: bytes
    expected_reason: str


@dataclass(frozen=True)
class SampleSummary:
    cycle: str
    members_in_force: int
    members_selected: int
    participating: int
    documents: int
    files_written: int
    erroneous_by_reason: dict[str, int]
    quality_defects: tuple[tuple[str, str], ...] = ()  # (member, rule) seeded for the quality gate

    def __str__(self) -> str:
        errors = ", ".join(f"{code} {n}" for code, n in sorted(self.erroneous_by_reason.items()))
        defects = ", ".join(f"{member} {rule}" for member, rule in self.quality_defects)
        return (
            f"cycle {self.cycle}: {self.members_in_force} members in force, "
            f"{self.members_selected} selected, {self.participating} participating, "
            f"{self.documents} submissions, {self.files_written} files written"
            + (f"; erroneous files: {errors}" if errors else "")
            + (f"; quality defects seeded: {defects}" if defects else "")
        )


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
            (ref.item, t + ref.offset)
            for series in kpi.series
            for ref in catalogue.formulas[(kpi.id, series.id)].refs
        )
        for kpi in kpis
    }
    needed_at_t_minus_1 = {
        item for needs in kpi_needs.values() for item, year in needs if year == t_minus_1
    }
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


def select_members(
    reference: Reference, cycle_id: str, members: int | None = None, seed: int = 0
) -> list[str]:
    """Codes of the members asked to take part, sorted: all in force, or N of them chosen by seed."""
    in_force = sorted(reference.members_in_force(reference.cycles.get(cycle_id)))
    if members is None:
        return in_force
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members}")
    if members > len(in_force):
        raise ValueError(
            f"members={members} is more than the {len(in_force)} members in force for cycle {cycle_id}"
        )
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


def _draft_values(
    plan: _CyclePlan, values: dict[AnswerKey, Value], rng: random.Random
) -> dict[AnswerKey, Value]:
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


def _window(cycle: Cycle) -> tuple[dt.datetime, dt.datetime]:
    opens = dt.datetime.combine(cycle.collection.opens, dt.time(0, 0, 0), dt.UTC)
    closes = dt.datetime.combine(cycle.collection.closes, dt.time(23, 59, 59), dt.UTC)
    return opens, closes


def _between(
    start: dt.datetime, end: dt.datetime, rng: random.Random, low: float, high: float
) -> dt.datetime:
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
    opens, closes = _window(plan.cycle)
    # The latest version leaves room after it for a later, broken file (see corrupt_documents).
    latest_at = _between(opens, closes, rng, 0.05, 0.85)
    member = membership.member_code
    latest_answers = _answers(plan, drawer.values, states, explicit_reported)
    latest = _document(member, plan.cycle, latest_at, latest_answers, disclosure)
    if not resubmits:
        return [latest]
    draft_values = _draft_values(plan, drawer.values, rng)
    draft_at = _between(opens, latest_at, rng, 0.1, 0.9)
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


def _misspelt(code: str, known: set[str]) -> str:
    for candidate in (code[:-1], f"{code}s", f"{code}_old", f"{code}_unknown"):
        if candidate not in known:
            return candidate
    raise AssertionError("unreachable: _unknown is never a catalogue item")


def _corrupt(
    kind: str, document: dict[str, Any], reference: Reference, catalogue: Catalogue, rng: random.Random
) -> bytes:
    """The bytes of `document` broken in the way `kind` names (the document is changed in place)."""
    cycle = reference.cycles.get(document["cycle"])
    t = cycle.reporting_year
    answers = document["answers"]
    if kind == "empty_file":
        return b""
    if kind == "not_json":
        text = render_json(document)
        return text[: max(1, len(text) // 2)]  # a transfer cut short
    if kind == "unsupported_format_version":
        document["format_version"] = FORMAT_VERSION + 1
    elif kind == "unknown_member":
        document["member"] = UNKNOWN_MEMBER_CODE
    elif kind == "cycle_mismatch":
        other_ids = [c for c in reference.cycles.ids if c != cycle.id]
        document["cycle"] = other_ids[0] if other_ids else f"{cycle.id}-previous"
    elif kind == "unknown_item":
        answer = rng.choice(answers)
        answer["item"] = _misspelt(answer["item"], set(catalogue.items))
    elif kind == "year_out_of_range":
        # Reporting the collection year instead of T is the likely slip.
        answer = rng.choice([a for a in answers if a["year"] == t])
        answer["year"] = t + 1
    elif kind == "bad_status":
        answer = rng.choice(answers)
        answer.pop("value", None)
        answer.pop("comment", None)
        answer["status"] = "maybe"
    elif kind == "not_a_number":
        numeric = [a for a in answers if not catalogue.items[a["item"]].is_categorical]
        with_thousands = [
            a for a in numeric if isinstance(a.get("value"), (int, float)) and a["value"] >= 1000
        ]
        answer = rng.choice(with_thousands or numeric or answers)
        number = answer.get("value")
        answer["value"] = f"{int(number):,}" if isinstance(number, (int, float)) else "1,200"
        answer.pop("status", None)
        answer.pop("comment", None)
    elif kind == "duplicate_answer":
        answers.append(copy.deepcopy(rng.choice(answers)))
    else:
        raise ValueError(f"unknown error kind {kind!r}")
    return render_json(document)


def corrupt_documents(
    documents: Sequence[dict[str, Any]],
    reference: Reference,
    catalogue: Catalogue,
    cycle_id: str,
    error_share: float,
    seed: int = 0,
) -> list[ErroneousFile]:
    """One broken file for a seeded share of the participating members, kinds taken in turn.

    Each is dated after the member's latest valid version, so intake sees a latest version that is
    invalid and must fall back on the valid one.
    """
    if not 0 <= error_share <= 1:
        raise ValueError(f"error_share must be between 0 and 1, got {error_share}")
    latest = latest_documents(documents)
    if error_share == 0 or not latest:
        return []
    rng = random.Random(f"pmm-sample:{seed}:{cycle_id}:errors")
    count = max(1, round(error_share * len(latest)))
    chosen = rng.sample(sorted(latest), count)
    _, closes = _window(reference.cycles.get(cycle_id))
    erroneous = []
    for index, member in enumerate(chosen):
        kind = ERROR_KINDS[index % len(ERROR_KINDS)]
        document = copy.deepcopy(latest[member])
        valid_at = parse_timestamp(document["submitted_at"])
        document["submitted_at"] = format_timestamp(_between(valid_at, closes, rng, 0.1, 0.9))
        data = _corrupt(kind, document, reference, catalogue, rng)
        erroneous.append(ErroneousFile(member, f"{member}_{cycle_id}_bad_{kind}.json", data, kind))
    return erroneous


# Quality defects: figures a member could well send (intake accepts them) that the quality gate must catch,
# each by exactly one rule (see pmm_pipeline/stages/quality/rules.py). Rules intake already enforces (known codes,
# one answer per item and year) and those needing an earlier cycle (revisions) cannot be seeded in one cycle.
QUALITY_DEFECT_KINDS = (
    "values_within_range",
    "values_match_item_type",
    "part_not_above_whole",
    "required_items_present",
    "variation_years_present",
    "yoy_change_within_band",
    "magnitude_consistent_with_history",
    "value_near_peer_median",
)
UNIT_SLIP = 1000  # thousands reported as units


@dataclass(frozen=True)
class _DefectPlan:
    """What the quality defects of a cycle can be made of, derived once from the catalogue."""

    cycle: Cycle
    items: dict[str, Item]
    kpi_uses: dict[str, set[tuple[str, int]]]  # item -> (KPI, year offset) using it
    variation_bands: dict[str, float]  # item used only by one variation KPI -> its band in %
    peer_ratios: list[tuple[str, str, str, int]]  # (KPI, numerator, whole, fewest members for the comparison)

    def is_whole(self, code: str) -> bool:
        return any(item.part_of == code for item in self.items.values())

    def only_part(self, code: str) -> bool:
        """A part that is no other item's whole: changing it moves no other comparison."""
        return self.items[code].part_of is not None and not self.is_whole(code)


def _plan_defects(catalogue: Catalogue, cycle: Cycle) -> _DefectPlan:
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    uses: dict[str, set[tuple[str, int]]] = {}
    for kpi in kpis:
        for series in kpi.series:
            for ref in catalogue.formulas[(kpi.id, series.id)].refs:
                uses.setdefault(ref.item, set()).add((kpi.id, ref.offset))
    by_id = {k.id: k for k in kpis}
    bands = {}
    for code, used in uses.items():
        users = {kpi_id for kpi_id, _ in used}
        kpi = by_id[next(iter(users))]
        if len(users) == 1 and kpi.shape == Shape.variation and kpi.quality.max_yoy_change_pct:
            bands[code] = kpi.quality.max_yoy_change_pct
    peer_ratios = []
    for kpi in kpis:
        if kpi.shape != Shape.ratio or kpi.quality.peer_max_mads is None:
            continue
        for series in kpi.series:
            formula = catalogue.formulas[(kpi.id, series.id)]
            refs = [r.item for r in formula.refs]
            part = next((catalogue.items[c] for c in refs if catalogue.items[c].part_of in refs), None)
            if part is not None and len(uses[part.code]) == 1:
                peer_ratios.append((kpi.id, part.code, part.part_of, kpi.quality.peer_min_members))
    return _DefectPlan(cycle, dict(catalogue.items), uses, bands, sorted(peer_ratios))


def _reported(answers: list[dict[str, Any]], year: int) -> dict[str, dict[str, Any]]:
    return {a["item"]: a for a in answers if a["year"] == year and isinstance(a.get("value"), (int, float))}


def _seed_defect(
    kind: str, document: dict[str, Any], plan: _DefectPlan, rng: random.Random, peers_in_region: Callable[[str], int]
) -> bool:
    """Change `document` so that it carries one defect of `kind`; False when it has nothing to change for it."""
    t_minus_1, t = plan.cycle.years
    answers: list[dict[str, Any]] = document["answers"]
    at_t, at_t_minus_1 = _reported(answers, t), _reported(answers, t_minus_1)

    def pick(candidates: Iterable[str]) -> str | None:
        options = sorted(candidates)
        return rng.choice(options) if options else None

    def is_count(code: str) -> bool:
        return plan.items[code].type == ItemType.count

    if kind == "values_within_range":
        code = pick(c for c, a in at_t.items() if plan.only_part(c) and a["value"] > 0)
        if code:
            at_t[code]["value"] = -at_t[code]["value"]
    elif kind == "values_match_item_type":
        code = pick(c for c, a in at_t.items() if plan.only_part(c) and is_count(c) and a["value"] >= 1)
        if code:
            at_t[code]["value"] = at_t[code]["value"] - 0.5
    elif kind == "part_not_above_whole":
        code = pick(c for c in at_t if plan.only_part(c) and plan.items[c].part_of in at_t)
        if code:
            whole = at_t[plan.items[code].part_of]["value"]
            at_t[code]["value"] = int(whole * 2 + 1) if is_count(code) else whole * 2 + 1
    elif kind == "required_items_present":
        code = pick(
            a["item"] for a in answers
            if a["year"] == t and len(plan.kpi_uses.get(a["item"], ())) == 1 and not plan.is_whole(a["item"])
            and a["item"] not in plan.variation_bands
        )
        if code:
            answers.remove(next(a for a in answers if a["item"] == code and a["year"] == t))
    elif kind == "variation_years_present":
        code = pick(a["item"] for a in answers if a["year"] == t_minus_1 and a["item"] in plan.variation_bands)
        if code:
            answers.remove(next(a for a in answers if a["item"] == code and a["year"] == t_minus_1))
    elif kind in ("yoy_change_within_band", "magnitude_consistent_with_history"):
        code = pick(
            c for c in plan.variation_bands
            if c in at_t and c in at_t_minus_1 and at_t_minus_1[c]["value"] >= 1 and at_t[c]["value"] >= 1
        )
        if code and kind == "yoy_change_within_band":
            # Twice the band away from T-1, far below a unit slip.
            changed = at_t_minus_1[code]["value"] * (1 + 2 * plan.variation_bands[code] / 100)
            at_t[code]["value"] = round(changed) if is_count(code) else changed
        elif code:
            at_t[code]["value"] = at_t[code]["value"] * UNIT_SLIP
    elif kind == "value_near_peer_median":
        # A share a thousand times below the smallest plausible one, in a region where the comparison runs
        # (two members to spare, in case other defects take some out of it).
        def tiny(part: str) -> float:
            lowest_share = PART_SHARES.get(part, DEFAULT_PART_SHARE)[0]
            value = at_t[plan.items[part].part_of]["value"] * lowest_share / UNIT_SLIP
            return round(value) if is_count(part) else value

        code = pick(
            part for kpi_id, part, whole, fewest in plan.peer_ratios
            if part in at_t and whole in at_t and peers_in_region(kpi_id) >= fewest + 2 and tiny(part) >= 1
        )
        if code:
            at_t[code]["value"] = tiny(code)
    else:
        raise ValueError(f"unknown quality defect kind {kind!r}")
    return code is not None


def inject_quality_defects(
    documents: Sequence[dict[str, Any]],
    reference: Reference,
    catalogue: Catalogue,
    cycle_id: str,
    share: float,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Seed one quality defect into the latest submission of a seeded share of the participating members.

    Kinds are taken in turn (QUALITY_DEFECT_KINDS); a member whose submission has nothing to change for
    a kind gets the next kind that fits. The documents are changed in place; intake still accepts them.
    Returns the (member, rule) pairs seeded: the findings the quality gate must report, and no others.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    latest = latest_documents(documents)
    if share == 0 or not latest:
        return []
    cycle = reference.cycles.get(cycle_id)
    plan = _plan_defects(catalogue, cycle)
    regions = {code: m.region_code for code, m in reference.members_in_force(cycle).items()}
    t = cycle.reporting_year

    def peers_in_region(member: str) -> Callable[[str], int]:
        def count(kpi_id: str) -> int:
            _, part, whole, _ = next(p for p in plan.peer_ratios if p[0] == kpi_id)
            return sum(
                1
                for other, document in latest.items()
                if regions.get(other) == regions.get(member) and {part, whole} <= set(_reported(document["answers"], t))
            )

        return count

    rng = random.Random(f"pmm-sample:{seed}:{cycle_id}:quality-defects")
    chosen = rng.sample(sorted(latest), max(1, round(share * len(latest))))
    seeded = []
    for index, member in enumerate(chosen):
        for step in range(len(QUALITY_DEFECT_KINDS)):
            kind = QUALITY_DEFECT_KINDS[(index + step) % len(QUALITY_DEFECT_KINDS)]
            if _seed_defect(kind, latest[member], plan, rng, peers_in_region(member)):
                seeded.append((member, kind))
                break
    return sorted(seeded)


def _json_writer(document: dict[str, Any], _context: SampleContext | None) -> tuple[str, bytes]:
    return ".json", render_json(document)


# Format name -> function giving a document's file suffix and bytes; the Excel questionnaire needs the
# catalogue and the members' languages, given as the SampleContext.
WRITERS: dict[str, Callable[[dict[str, Any], SampleContext | None], tuple[str, bytes]]] = {
    "json": _json_writer,
    "xlsx": xlsx_writer,
    "csv": csv_writer,
}


def _checked_formats(formats: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    if not names:
        raise ValueError("at least one format is needed")
    for name in names:
        if name not in WRITERS:
            raise ValueError(f"unknown format {name!r}; choose from {', '.join(WRITERS)}")
    return names


def write_sample(
    landing_dir: Path,
    documents: Sequence[dict[str, Any]],
    erroneous_files: Sequence[ErroneousFile] = (),
    formats: Sequence[str] = ("json",),
    context: SampleContext | None = None,
) -> list[Path]:
    """Write `<member>_<cycle>_v<k>` files (k in submitted_at order) and the broken ones; return paths.

    With several formats, members take them in turn (in member order), so that every format is
    exercised without one submission arriving twice.
    """
    names = _checked_formats(formats)
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    by_member: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_member.setdefault(document["member"], []).append(document)
    written: list[Path] = []
    for index, member in enumerate(sorted(by_member)):
        writer = WRITERS[names[index % len(names)]]
        versions = sorted(by_member[member], key=lambda d: parse_timestamp(d["submitted_at"]))
        for version, document in enumerate(versions, start=1):
            suffix, data = writer(document, context)
            path = landing_dir / f"{member}_{document['cycle']}_v{version}{suffix}"
            write_atomically(path, data)
            written.append(path)
    for bad in erroneous_files:
        path = landing_dir / bad.file_name
        write_atomically(path, bad.data)
        written.append(path)
    return written


def summarize_sample(
    reference: Reference,
    cycle_id: str,
    documents: Sequence[dict[str, Any]],
    erroneous_files: Sequence[ErroneousFile] = (),
    written: Sequence[Path] = (),
    members: int | None = None,
) -> SampleSummary:
    in_force = len(reference.members_in_force(reference.cycles.get(cycle_id)))
    return SampleSummary(
        cycle=cycle_id,
        members_in_force=in_force,
        members_selected=in_force if members is None else members,
        participating=len({d["member"] for d in documents}),
        documents=len(documents),
        files_written=len(written),
        erroneous_by_reason=dict(Counter(bad.expected_reason for bad in erroneous_files)),
    )


def generate_sample(
    reference: Reference,
    catalogue: Catalogue,
    cycle_id: str,
    landing_dir: Path,
    members: int | None = None,
    seed: int = 0,
    formats: Sequence[str] = ("json",),
    error_share: float = 0.0,
    quality_defect_share: float = 0.0,
) -> SampleSummary:
    """Everything `pmm sample` does: build, seed quality defects, break a share, write, and say what was written."""
    _checked_formats(formats)  # fail before anything is written
    if not 0 <= quality_defect_share <= 1:
        raise ValueError("quality_defect_share must be between 0 and 1")
    documents = build_sample_documents(reference, catalogue, cycle_id, members, seed)
    defects = (
        inject_quality_defects(documents, reference, catalogue, cycle_id, quality_defect_share, seed)
        if quality_defect_share
        else []
    )
    erroneous = corrupt_documents(documents, reference, catalogue, cycle_id, error_share, seed)
    written = write_sample(landing_dir, documents, erroneous, formats, SampleContext(reference, catalogue))
    summary = summarize_sample(reference, cycle_id, documents, erroneous, written, members)
    return dataclasses.replace(summary, quality_defects=tuple(defects))
