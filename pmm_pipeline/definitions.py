"""The code location: what each stage contributes, built from the catalogue and the cycles configuration."""

import dagster as dg

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.collection import build_collection_assets
from pmm_pipeline.defs.feedback import build_feedback_assets
from pmm_pipeline.defs.ingestion import build_ingestion_assets
from pmm_pipeline.defs.jobs import COLLECTION_JOB, build_cycle_partitions, build_jobs
from pmm_pipeline.defs.kpis import build_kpi_assets
from pmm_pipeline.defs.lineage import build_lineage_assets
from pmm_pipeline.defs.published import build_published_assets
from pmm_pipeline.defs.publishing import build_publishing_assets
from pmm_pipeline.defs.publishing_sql import build_sql_publication_assets
from pmm_pipeline.defs.quality import build_quality_assets
from pmm_pipeline.defs.rollups import build_rollup_assets
from pmm_pipeline.defs.schedules import build_calendar_schedules
from pmm_pipeline.defs.sensors import build_landing_file_sensor
from pmm_pipeline.defs.staging import build_staging_assets
from pmm_pipeline.orchestration.instance import prepare_run_process
from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.orchestration.resources.disclosure_policy import DisclosurePolicy
from pmm_pipeline.orchestration.resources.sql_target import SqlPublicationTarget
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference


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
        build_published_assets,
        build_sql_publication_assets,
        build_collection_assets,
        build_feedback_assets,
    )
    assets = [a for build in stages for a in build(reference, catalogue, partitions)]
    return dg.Definitions(
        assets=apply_asset_policies(assets, strict_checks=True),
        jobs=build_jobs(partitions),
        schedules=build_calendar_schedules(reference.cycles),
        sensors=[
            build_landing_file_sensor(COLLECTION_JOB, reference.cycles.ids, frozenset(reference.known_member_codes()))
        ],
        resources={
            "storage": PmmStorage.from_limits(
                str(settings.data_dir),
                settings.intake_limits,
                platform_url=settings.platform_url,
                secretariat_email=settings.secretariat_email,
            ),
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
    # The entry point of processes that load the code location: run workers, the daemon, code servers.
    definitions = build_definitions(Settings.from_env())
    prepare_run_process()
    return definitions
