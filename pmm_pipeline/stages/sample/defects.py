"""Quality defects for a sample cycle: figures intake accepts that exactly one quality rule must catch."""

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item, ItemType, Shape
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.sample.documents import latest_documents
from pmm_pipeline.stages.sample.figures import DEFAULT_PART_SHARE, PART_SHARES

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
            a["item"]
            for a in answers
            if a["year"] == t
            and len(plan.kpi_uses.get(a["item"], ())) == 1
            and not plan.is_whole(a["item"])
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
            c
            for c in plan.variation_bands
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
            part
            for kpi_id, part, whole, fewest in plan.peer_ratios
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
