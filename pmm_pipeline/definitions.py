"""The code location: what each stage contributes, built from the catalogue and the cycles configuration."""

import dagster as dg

from pmm_pipeline.catalogue.load import load_catalogue
from pmm_pipeline.collection.assets import build_collection_assets
from pmm_pipeline.feedback.assets import build_feedback_assets
from pmm_pipeline.ingestion.assets import build_ingestion_assets
from pmm_pipeline.kpis.assets import build_kpi_assets
from pmm_pipeline.lineage.assets import build_lineage_assets
from pmm_pipeline.orchestration.jobs import COLLECTION_JOB, build_cycle_partitions, build_jobs
from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.orchestration.schedules import build_calendar_schedules
from pmm_pipeline.orchestration.sensors import build_landing_file_sensor
from pmm_pipeline.publishing.assets import build_publishing_assets
from pmm_pipeline.publishing.policy import DisclosurePolicy
from pmm_pipeline.publishing.sql_assets import build_sql_publication_assets
from pmm_pipeline.quality.assets import build_quality_assets
from pmm_pipeline.reference.load import load_reference
from pmm_pipeline.resources.sql_target import SqlPublicationTarget
from pmm_pipeline.resources.storage import PmmStorage
from pmm_pipeline.resources.warehouse import Warehouse
from pmm_pipeline.rollups.assets import build_rollup_assets
from pmm_pipeline.settings import Settings
from pmm_pipeline.staging.assets import build_staging_assets


def build_definitions(settings: Settings) -> dg.Definitions:
    catalogue = load_catalogue(settings.specs_dir)
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    partitions = build_cycle_partitions(reference.cycles)
    stages = (
        build_ingestion_assets,
        build_staging_assets,
        build_quality_assets,
        build_kpi_assets,
        build_lineage_assets,
        build_rollup_assets,
        build_publishing_assets,
        build_sql_publication_assets,
        build_collection_assets,
        build_feedback_assets,
    )
    assets = [a for build in stages for a in build(reference, catalogue, partitions)]
    return dg.Definitions(
        assets=apply_asset_policies(assets),
        jobs=build_jobs(partitions),
        schedules=build_calendar_schedules(reference.cycles),
        sensors=[
            build_landing_file_sensor(COLLECTION_JOB, reference.cycles.ids, frozenset(reference.known_member_codes()))
        ],
        resources={
            "storage": PmmStorage.from_limits(str(settings.data_dir), settings.intake_limits),
            "warehouse": Warehouse(
                database=str(settings.layout.warehouse_path), memory_limit=settings.warehouse_memory_limit
            ),
            "disclosure_policy": DisclosurePolicy(
                min_group_size=settings.min_group_size, coalition_size=settings.coalition_size
            ),
            "sql_target": SqlPublicationTarget.from_setting(settings.publish_sql_url),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
