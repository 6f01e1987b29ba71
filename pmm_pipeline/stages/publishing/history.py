"""What was published before a cycle's step: the cycles in order, the record of the reporting year's releases,
and the earlier cycles' released folders."""

from collections.abc import Sequence
from pathlib import Path

from pmm_pipeline.core.reuse import digest_text
from pmm_pipeline.core.settings import DataLayout
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.disclosure.record import RECORD_DIR, read_history


def cycles_in_order(reference: Reference) -> list[str]:
    """Cycle ids oldest first: by reporting year, then as configured."""
    position = {c.id: i for i, c in enumerate(reference.cycles.cycles)}
    return sorted(position, key=lambda c: (reference.cycles.get(c).reporting_year, position[c]))


def cycles_before(reference: Reference, cycle_id: str) -> list[str]:
    """The cycle ids before this one in cycles_in_order, oldest first."""
    order = cycles_in_order(reference)
    return order[: order.index(cycle_id)]


def released_folders(layout: DataLayout, cycle_ids: Sequence[str], tier: str) -> list[tuple[str, Path]]:
    """(cycle id, folder) of the tier's releases among these cycles, in their order: a folder with its manifest."""
    return [
        (c, layout.published_dir(c) / tier)
        for c in cycle_ids
        if (layout.published_dir(c) / tier / "manifest.json").exists()
    ]


def earlier_releases(layout: DataLayout, reference: Reference, cycle_id: str) -> dict:
    """Every release recorded for this cycle and the other cycles of its reporting year.

    The record is written by stages/disclosure/record.py.
    """
    year = reference.cycles.get(cycle_id).reporting_year
    cycles = [c.id for c in reference.cycles.cycles if c.reporting_year == year]
    return read_history([layout.published_dir(c) for c in sorted(cycles)], year)


def history_inputs(layout: DataLayout, reference: Reference, cycle_id: str) -> dict[str, str]:
    """The releases on record of the other cycles of the reporting year (record files are named by their SHA-256).

    This cycle's own record is not in the key: it grows only by the releases of the very result a re-run would
    reuse (a release of the same figures writes no new file), and any other change to this cycle's result
    changes its data inputs, so the step computes again with the whole record, as it always reads it.
    """
    year = reference.cycles.get(cycle_id).reporting_year
    others = sorted(c.id for c in reference.cycles.cycles if c.reporting_year == year and c.id != cycle_id)
    names = [
        f"{c}/{p.parent.name}/{p.name}"
        for c in others
        for p in sorted((layout.published_dir(c) / RECORD_DIR).glob("*/*.json"))
    ]
    return {"history:other_cycles_of_the_year": digest_text(*names)}
