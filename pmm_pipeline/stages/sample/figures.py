"""A sample member's figures: sized to its administration, parts within wholes, an earlier draft slightly off."""

import math
import random

from pmm_pipeline.specs.catalogue.models import Item, ItemType
from pmm_pipeline.specs.reference.models import Membership
from pmm_pipeline.stages.sample.plan import AnswerKey, CyclePlan, Value

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


class ValueDrawer:
    """Draws one member's values item by item; a part is drawn after its whole, for the same year."""

    def __init__(self, plan: CyclePlan, rng: random.Random, size_position: float):
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


def draw_draft_values(plan: CyclePlan, values: dict[AnswerKey, Value], rng: random.Random) -> dict[AnswerKey, Value]:
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


def draw_size_position(membership: Membership, rng: random.Random) -> float:
    """Where the member sits between a small and a large administration, from 0 to 1."""
    log_size = rng.gauss(INCOME_SIZE_SHIFT.get(membership.income_group, 0.0), SIZE_SPREAD)
    return 1 / (1 + math.exp(-log_size))
