"""Jobs and partitions of the code location: one run per cycle handles every member in one process."""

import dagster as dg

from pmm_pipeline.orchestration.tags import CYCLE_TAG
from pmm_pipeline.specs.reference.models import CyclesConfig
from pmm_pipeline.warehouse.tables import COMPLETENESS, FEEDBACK_REPORTS, OUTSTANDING_MEMBERS, QUESTIONNAIRES

CYCLE_JOB = "cycle_job"
COLLECTION_JOB = "collection_job"
QUESTIONNAIRES_JOB = "questionnaires_job"

# Only failures that can pass on a second try are retried (the warehouse held too long by a process
# outside the pipeline, a timeout, a dropped connection): the step guard that wraps every asset and
# check (orchestration/failures.py, applied in policies.py) turns every other failure (a full disk, a
# corrupt warehouse or archive copy, a bug) into dg.Failure(allow_retries=False), which this policy
# does not retry. A failed run can be re-executed from the failed step (docs/operators.md, "Failures and re-runs").
STEP_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def build_cycle_partitions(cycles: CyclesConfig) -> dg.StaticPartitionsDefinition:
    """One partition per configured cycle id: adding a cycle is a change of the cycles file."""
    return dg.StaticPartitionsDefinition(cycles.ids)


def _tagged_by_cycle(partitions: dg.PartitionsDefinition) -> dg.PartitionedConfig:
    # Every run of a partition (UI launch, job backfill, schedule) carries the cycle as a tag.
    return dg.PartitionedConfig(
        partitions_def=partitions,
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=lambda key: {CYCLE_TAG: key},
    )


def _cycle_asset_job(name: str, selection: dg.AssetSelection, partitions: dg.PartitionsDefinition, description: str):
    # In-process: one run per cycle with steps in one process; a process per step would re-import
    # the code (~4 s each) for work that takes milliseconds. Steps stay separate steps, so a failed
    # run can still be re-executed from the failed step.
    return dg.define_asset_job(
        name,
        selection=selection,
        config=_tagged_by_cycle(partitions),
        executor_def=dg.in_process_executor,
        op_retry_policy=STEP_RETRY_POLICY,
        description=description,
    )


def build_cycle_job(partitions: dg.PartitionsDefinition):
    return _cycle_asset_job(
        CYCLE_JOB,
        dg.AssetSelection.all() - dg.AssetSelection.assets(QUESTIONNAIRES.key),
        partitions,
        "Runs a whole cycle: landing files to published tables, with every check. Launched on the"
        " publication date, by `pmm run`, and for backfills over several cycles.",
    )


def build_collection_job(partitions: dg.PartitionsDefinition):
    return _cycle_asset_job(
        COLLECTION_JOB,
        dg.AssetSelection.assets(COMPLETENESS.key, OUTSTANDING_MEMBERS.key, FEEDBACK_REPORTS.key)
        .upstream()
        .required_multi_asset_neighbors(),
        partitions,
        "Takes in what has arrived, writes the members' feedback and refreshes the collection status"
        " (completeness, members not yet submitted); nothing is published. Launched daily during the"
        " window and once at closing.",
    )


def build_questionnaires_job(partitions: dg.PartitionsDefinition):
    return _cycle_asset_job(
        QUESTIONNAIRES_JOB,
        dg.AssetSelection.assets(QUESTIONNAIRES.key),
        partitions,
        "Writes every expected member's questionnaire in its language. Launched on the opening day.",
    )


def build_jobs(partitions: dg.PartitionsDefinition) -> list:
    return [build_cycle_job(partitions), build_collection_job(partitions), build_questionnaires_job(partitions)]
