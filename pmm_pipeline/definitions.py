"""The code location: what each stage contributes, built from the catalogue and the cycles configuration."""

import dagster as dg

from pmm_pipeline.catalogue.load import load_catalogue
from pmm_pipeline.ingestion.assets import build_ingestion_assets
from pmm_pipeline.kpis.assets import build_kpi_assets
from pmm_pipeline.orchestration.jobs import build_cycle_job, build_cycle_partitions
from pmm_pipeline.publishing.assets import build_publishing_assets
from pmm_pipeline.reference.load import load_reference
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
        build_kpi_assets,
        build_rollup_assets,
        build_publishing_assets,
    )
    assets = [a for build in stages for a in build(reference, catalogue, partitions)]
    return dg.Definitions(
        assets=assets,
        jobs=[build_cycle_job(partitions)],
        resources={
            "storage": PmmStorage(data_dir=str(settings.data_dir)),
            "warehouse": Warehouse(database=str(settings.layout.warehouse_path)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
