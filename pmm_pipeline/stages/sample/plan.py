"""What a complete sample submission of a cycle answers, derived once from the catalogue."""

from dataclasses import dataclass

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import Item
from pmm_pipeline.specs.reference.models import Cycle

AnswerKey = tuple[str, int]


Value = int | float | str


@dataclass(frozen=True)
class CyclePlan:
    """What a complete submission of the cycle answers, derived once from the catalogue."""

    cycle: Cycle
    items: dict[str, Item]
    answer_keys: tuple[AnswerKey, ...]
    kpi_needs: dict[str, frozenset[AnswerKey]]


def plan_cycle(catalogue: Catalogue, cycle: Cycle) -> CyclePlan:
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
    return CyclePlan(cycle, dict(catalogue.items), tuple(answer_keys), kpi_needs)
