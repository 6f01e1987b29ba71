"""`pmm list cycles|members|kpis`: the ids the other commands accept, from the configuration and the catalogue.

Each list is rows of plain values (the JSON of `--json`) and a fixed-width table for the terminal;
nothing here reads the warehouse.
"""

import datetime as dt
from typing import Any

from pmm_pipeline.core.text import printable
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.collection.cycle_status import cycle_state

CYCLE_COLUMNS = (
    "id",
    "reporting_year",
    "opens",
    "closes",
    "reopened_until",
    "publication_date",
    "catalogue_version",
    "state",
)
MEMBER_COLUMNS = ("code", "name", "region", "language")
KPI_COLUMNS = ("id", "shape", "series", "dimension", "status", "introduced_in", "name")


def list_cycles(reference: Reference, today: dt.date) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "reporting_year": c.reporting_year,
            "opens": c.collection.opens.isoformat(),
            "closes": c.collection.closes.isoformat(),
            "reopened_until": c.reopened_until.isoformat() if c.reopened_until else None,
            "publication_date": c.publication_date.isoformat(),
            "catalogue_version": c.catalogue_version,
            "state": cycle_state(c, today),
        }
        for c in reference.cycles.cycles
    ]


def list_members(reference: Reference, cycle: Cycle | None, today: dt.date) -> list[dict[str, Any]]:
    """The members in force for the cycle (on its membership date), or today without a cycle."""
    if cycle is not None:
        in_force = reference.members_in_force(cycle)
    else:
        in_force = {m.member_code: m for m in reference.memberships if m.in_force_on(today)}
    return [
        {"code": m.member_code, "name": m.name_en, "region": m.region_code, "language": m.language}
        for _, m in sorted(in_force.items())
    ]


def list_kpis(catalogue: Catalogue, version: str | None) -> list[dict[str, Any]]:
    """The KPIs of a catalogue version (a cycle's), or every KPI of the catalogue without one."""
    kpis = catalogue.kpis_for_version(version) if version is not None else list(catalogue.kpis.values())
    return [
        {
            "id": k.id,
            "shape": k.shape.value,
            "series": [s.id for s in k.series],
            "dimension": k.dimension,
            "status": k.status,
            "introduced_in": k.introduced_in,
            "retired_in": k.retired_in,
            "unit": k.unit,
            "name": k.names.en,
            "names": {"en": k.names.en, "fr": k.names.fr, "es": k.names.es},
        }
        for k in sorted(kpis, key=lambda k: k.id)
    ]


def render_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """Rows as aligned columns with a header line; lists are joined with commas, None is blank."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list | tuple):
            return ",".join(map(str, value))
        return printable(value)

    table = [list(columns)] + [[cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(r, widths, strict=True)).rstrip() for r in table
    )
