"""What a cycle's member profiles are built from, each taken where it was published: the released wco tier's rollups,
the cycle's values and memberships, the nearest earlier cycle's profiles; and the header of the profiles' manifest."""

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.provenance import code_version
from pmm_pipeline.core.settings import DataLayout
from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.publishing.definitions import kpi_definitions
from pmm_pipeline.stages.publishing.folders import check_listed
from pmm_pipeline.stages.publishing.history import cycles_before
from pmm_pipeline.stages.publishing.profile_document import ProfileInputs
from pmm_pipeline.stages.publishing.profiles import PROFILES_FOLDER, member_profile
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.release import ReleaseRefusedError, sha256_file


def released_wco_rollups(published_dir: Path) -> pd.DataFrame:
    """The rollups of the cycle's released wco tier as its readers get them (`published_dir` = published/<cycle>);
    ReleaseRefusedError for the profiles when that release does not read back as published."""
    frames, problems = read_release_files(published_dir / "wco")
    if problems:
        raise ReleaseRefusedError(published_dir / PROFILES_FOLDER, problems)
    return frames["rollups.parquet"]


def previous_profiles(
    layout: DataLayout, reference: Reference, cycle_id: str, members: Sequence[str]
) -> tuple[dict[str, dict], dict[str, str]]:
    """The members' profiles of the nearest earlier cycle that has profiles, and the KPI definitions it used;
    ReleaseRefusedError when that folder does not read back as its manifest lists it."""
    for earlier in reversed(cycles_before(reference, cycle_id)):
        folder = layout.published_dir(earlier) / PROFILES_FOLDER
        if not (folder / "manifest.json").exists():
            continue
        manifest, problems = check_listed(folder)
        if problems:
            raise ReleaseRefusedError(folder, problems)
        found = {m: member_profile(layout.published_dir(earlier), m) for m in members}
        return {m: d for m, d in found.items() if d is not None}, manifest.get("kpi_definitions") or {}
    return {}, {}


def profile_inputs(
    layout: DataLayout,
    reference: Reference,
    catalogue: Catalogue,
    cycle: Cycle,
    values: pd.DataFrame,
    memberships: pd.DataFrame,
    wco_rollups: pd.DataFrame,
    min_group_size: int,
) -> tuple[list[str], ProfileInputs]:
    """The members that get a profile (every participant) and what their profiles are built from."""
    members = sorted(set(memberships.member_code))
    in_force = reference.members_in_force(cycle)
    previous, previous_definitions = previous_profiles(layout, reference, cycle.id, members)
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    inputs = ProfileInputs(
        cycle=cycle.id,
        reporting_year=cycle.reporting_year,
        kpis=kpis,
        values=values[values.member_code.isin(members)],
        wco_rollups=wco_rollups,
        memberships=memberships,
        languages={m: in_force[m].language for m in members if m in in_force},
        group_names={
            (str(g.group_type), g.group_code): {lang: getattr(g, f"name_{lang}") for lang in LANGUAGES}
            for g in reference.groups
        },
        # Every member in force: the check of the pages looks for any of their codes outside its own profile.
        member_names={m: {lang: row.name(lang) for lang in LANGUAGES} for m, row in in_force.items()},
        min_group_size=min_group_size,
        definitions=kpi_definitions(kpis),
        previous=previous,
        previous_definitions=previous_definitions,
    )
    return members, inputs


def profiles_header(cycle: Cycle, run_id: str, inputs: ProfileInputs, published_dir: Path) -> dict:
    """The head of the profiles' manifest: format, run, code, catalogue, KPI definitions, and the wco release the
    group figures were taken from (`published_dir` = published/<cycle>)."""
    return {
        "format": "pmm-profiles",
        "format_version": 1,
        "cycle": cycle.id,
        "run_id": run_id,
        "code_version": code_version(),
        "catalogue_version": cycle.catalogue_version,
        "kpi_definitions": inputs.definitions,
        "wco_manifest_sha256": sha256_file(published_dir / "wco" / "manifest.json"),
    }
