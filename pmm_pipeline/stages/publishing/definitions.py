"""What a KPI measures, as a digest: two cycles' figures of a KPI are comparable when its digests are equal.

The digest covers what changes the meaning of a value (shape, unit, each series' formula, and the
items the formulas use: their type, unit and levels), not its wording (names, descriptions, labels).
Each release records the digests of the catalogue it was built with (manifest `kpi_definitions`), so
a later cycle compares with what an earlier one PUBLISHED, whatever the catalogue holds today.
"""

import hashlib
import json
from collections.abc import Iterable

from pmm_pipeline.specs.catalogue.models import KpiSpec


def kpi_definition(kpi: KpiSpec) -> dict:
    return {
        "shape": kpi.shape.value,
        "unit": kpi.unit,
        "series": [{"id": s.id, "formula": " ".join(s.formula.split())} for s in kpi.series],
        "items": [
            {
                "code": i.code,
                "type": i.type.value,
                "unit": i.unit,
                "levels": [{"code": lv.code, "score": lv.score} for lv in i.answer_levels],
            }
            for i in sorted(kpi.items, key=lambda i: i.code)
        ],
    }


def kpi_definitions(kpis: Iterable[KpiSpec]) -> dict[str, str]:
    """KPI id -> SHA-256 of its definition (canonical JSON)."""
    return {
        k.id: hashlib.sha256(json.dumps(kpi_definition(k), sort_keys=True).encode()).hexdigest()
        for k in sorted(kpis, key=lambda k: k.id)
    }
