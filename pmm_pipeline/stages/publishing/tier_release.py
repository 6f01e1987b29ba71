"""A tier's release of a cycle, from its tables to its folder switched in: what the release says of itself, its
reader files, the audit before the switch, the record of what it shows, and the row that logs it."""

import datetime as dt
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.provenance import code_version
from pmm_pipeline.core.settings import DataLayout
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS
from pmm_pipeline.stages.disclosure.record import release_record, write_record
from pmm_pipeline.stages.publishing.definitions import kpi_definitions
from pmm_pipeline.stages.publishing.history import cycles_before, released_folders
from pmm_pipeline.stages.publishing.outputs import build_reader_outputs
from pmm_pipeline.stages.publishing.release import ReleaseInfo, sha256_file, write_release
from pmm_pipeline.stages.publishing.series import earlier_cycles
from pmm_pipeline.stages.publishing.tier_audit import audit_release_files
from pmm_pipeline.stages.publishing.warehouse_inputs import CycleTruth


def release_info(cycle: Cycle, tier: str, run_id: str, catalogue: Catalogue) -> ReleaseInfo:
    """What the release's manifest says of it: cycle, tier, run, code, catalogue and KPI definitions, time."""
    return ReleaseInfo(
        cycle=cycle.id,
        tier=tier,
        run_id=run_id,
        code_version=code_version(),
        catalogue_version=cycle.catalogue_version,
        catalogue_digest=catalogue_digest(catalogue),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        kpi_definitions=kpi_definitions(catalogue.kpis_for_version(cycle.catalogue_version)),
    )


def release_tier(
    layout: DataLayout,
    reference: Reference,
    catalogue: Catalogue,
    info: ReleaseInfo,
    truth: CycleTruth,
    tables: dict[str, pd.DataFrame],
    completeness: pd.DataFrame | None,
    min_group_size: int,
    coalition_size: int,
) -> dict:
    """Writes published/<cycle>/<tier>/ from the tier's tables (release.py), audited with the lower tiers' released
    files before the switch and put on record just before it; returns the manifest.

    Raises ReleaseRefusedError, nothing switched in, when an earlier release of the tier does not read back as
    published (the report's trends would draw figures no release showed) or the audit finds a problem.
    """
    cycle, tier = reference.cycles.get(info.cycle), info.tier
    published_dir = layout.published_dir(cycle.id)
    before = released_folders(layout, cycles_before(reference, cycle.id), tier)
    earlier = earlier_cycles(before)  # the report's trends: what this tier published before
    extras = build_reader_outputs(
        cycle,
        tier,
        catalogue,
        reference,
        completeness,
        min_group_size,
        code_version=info.code_version,
        earlier=earlier,
    )

    def audit_files(building: Path) -> list[str]:
        return audit_release_files(published_dir, tier, building, truth, min_group_size, coalition_size)

    def put_on_record(_building: Path) -> None:
        """What this release shows, kept for every later release's disclosure control.

        The record's format is stages/disclosure/record.py's.
        """
        if tier in AUDITED_TIERS:
            write_record(published_dir, tier, release_record(truth.facts, tables, tier, cycle.id, cycle.reporting_year))

    return write_release(
        published_dir / tier, tables, info, verify=audit_files, extras=extras, before_switch=put_on_record
    )


def release_log_row(info: ReleaseInfo, tier_dir: Path) -> pd.DataFrame:
    """The row of the tier's releases table that logs the release just switched in at `tier_dir`."""
    return pd.DataFrame(
        [
            {
                "cycle": info.cycle,
                "run_id": info.run_id,
                "released_at": dt.datetime.now(dt.UTC),
                "path": str(tier_dir),
                "manifest_sha256": sha256_file(tier_dir / "manifest.json"),
                "code_version": info.code_version,
                "catalogue_digest": info.catalogue_digest,
            }
        ]
    )
