"""Dagster wiring of what is built for readers from the released tiers: each participating member's profile (its
values beside the wco tier's released figures) and, per tier, the series of every published cycle.

    publish_wco.releases ─────────────► published.profiles
    publish_<tier>.releases (each tier) ─► published.series
"""

import dagster as dg

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.defs.publishing import disclosure_inputs_of, refusal_failure
from pmm_pipeline.orchestration.resources.disclosure_policy import DisclosurePolicy
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import common_inputs, folder_digest, reusable
from pmm_pipeline.orchestration.table_assets import require_tables
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.publishing.history import cycles_before, cycles_in_order
from pmm_pipeline.stages.publishing.profile_inputs import profile_inputs, profiles_header, released_wco_rollups
from pmm_pipeline.stages.publishing.profiles import PROFILES_FOLDER, write_profiles
from pmm_pipeline.stages.publishing.release import ReleaseRefusedError
from pmm_pipeline.stages.publishing.series import SERIES_FOLDER, write_every_series
from pmm_pipeline.stages.publishing.warehouse_inputs import load_memberships, load_values
from pmm_pipeline.warehouse.tables import KPI_VALUES, PARTICIPATION, published_tables

PROFILES_KEY = dg.AssetKey(["published", "profiles"])
SERIES_KEY = dg.AssetKey(["published", "series"])


def build_published_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    return [_build_profiles_asset(reference, catalogue, partitions), _build_series_asset(reference, partitions)]


def _profiles_dir(storage: PmmStorage, cycle_id: str):
    return storage.layout.published_dir(cycle_id) / PROFILES_FOLDER


def _build_profiles_asset(reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition):
    wco_release = published_tables("wco")[2].key
    disclosure_inputs = disclosure_inputs_of(reference, catalogue)

    def profiles_inputs(context, conn, storage: PmmStorage, **resources):
        previous = {
            f"folder:published/{c}/{PROFILES_FOLDER}": folder_digest(_profiles_dir(storage, c))
            for c in cycles_before(reference, context.partition_key)
        }
        # The record of releases is not read here; the policy's min group size is.
        return disclosure_inputs(context, conn, storage, readers=True, history=False, **resources) | previous

    @dg.asset(
        key=PROFILES_KEY,
        description="Writes published/<cycle>/profiles/<member>/ (profile.json, profile_<lang>.html in the member's"
        " language and English) for every participating member: its own values beside the wco tier's released"
        " figures of each group it belongs to, and its change since its previous cycle; manifest.json lists every"
        " file, checked before the folder is switched in.",
        group_name="published",
        deps=[wco_release, PARTICIPATION.key, KPI_VALUES.key],
        partitions_def=partitions,
        kinds={"json", "html"},
    )
    @reusable(profiles_inputs, lambda context, storage, **_: [_profiles_dir(storage, context.partition_key)])
    def profiles(
        context: dg.AssetExecutionContext,
        storage: PmmStorage,
        warehouse: Warehouse,
        disclosure_policy: DisclosurePolicy,
    ):
        cycle = reference.cycles.get(context.partition_key)
        published_dir = storage.layout.published_dir(cycle.id)
        try:
            wco_rollups = released_wco_rollups(published_dir)
            with warehouse.get_connection() as conn:
                require_tables(conn, cycle.id, [KPI_VALUES], with_rows=[PARTICIPATION])
                values = load_values(conn, cycle.id)
                memberships = load_memberships(conn, cycle.id)
            members, inputs = profile_inputs(
                storage.layout,
                reference,
                catalogue,
                cycle,
                values,
                memberships,
                wco_rollups,
                disclosure_policy.min_group_size,
            )
            header = profiles_header(cycle, context.run_id, inputs, published_dir)
            manifest = write_profiles(published_dir / PROFILES_FOLDER, context.run_id, members, inputs, header)
        except ReleaseRefusedError as refused:
            raise refusal_failure(refused) from None
        return dg.MaterializeResult(
            metadata={
                "profiles": dg.MetadataValue.int(len(members)),
                "files": dg.MetadataValue.int(len(manifest["files"])),
                "folder": dg.MetadataValue.path(str(published_dir / PROFILES_FOLDER)),
            }
        )

    return profiles


def _build_series_asset(reference: Reference, partitions: dg.PartitionsDefinition):
    def series_inputs(context, conn, storage: PmmStorage, **_):
        released = {
            f"folder:published/{c}/{t}": folder_digest(storage.layout.published_dir(c) / t)
            for c in cycles_in_order(reference)
            for t in TIERS
        }
        return common_inputs() | released

    def series_dirs(context, storage: PmmStorage, **_):
        return [storage.layout.data_dir / "published" / SERIES_FOLDER / t for t in TIERS]

    @dg.asset(
        key=SERIES_KEY,
        description="Rewrites published/series/<tier>/ for every tier: kpi_values and rollups of every published"
        " cycle in one table each (CSV, Parquet, manifest.json), with catalogue_version and"
        " comparable_with_previous, read from the cycles' released tier folders; rebuilt whenever a cycle is"
        " published.",
        group_name="published",
        deps=[published_tables(t)[2].key for t in TIERS],
        partitions_def=partitions,
        kinds={"csv", "parquet"},
    )
    @reusable(series_inputs, series_dirs)
    def series(context: dg.AssetExecutionContext, storage: PmmStorage):
        if SERIES_FOLDER in reference.cycles.ids:  # published/series/ would be that cycle's folder too
            raise dg.Failure(f"a cycle may not be called {SERIES_FOLDER!r}: rename it in the cycles file")
        try:
            joined = write_every_series(storage.layout, cycles_in_order(reference), context.run_id)
        except ReleaseRefusedError as refused:
            raise refusal_failure(refused) from None
        return dg.MaterializeResult(metadata={"cycles": dg.MetadataValue.json(joined)})

    return series
