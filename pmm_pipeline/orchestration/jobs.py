"""Jobs and partitions of the code location: one run per cycle handles every member in one process."""

import dagster as dg

from pmm_pipeline.reference.models import CyclesConfig

CYCLE_JOB = "cycle_job"


def build_cycle_partitions(cycles: CyclesConfig) -> dg.StaticPartitionsDefinition:
    """One partition per configured cycle id: adding a cycle is a change of the cycles file."""
    return dg.StaticPartitionsDefinition(cycles.ids)


def build_cycle_job(partitions: dg.PartitionsDefinition):
    # In-process: one run per cycle with steps in one process; a process per step would re-import
    # the code (~4 s each) for work that takes milliseconds.
    return dg.define_asset_job(
        CYCLE_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions,
        executor_def=dg.in_process_executor,
        description="Runs a whole cycle: landing files to published tables, with every check.",
    )
