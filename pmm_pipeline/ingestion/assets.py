"""Dagster wiring of ingestion: the landing folder of a cycle into the raw tables."""

import datetime as dt

import dagster as dg

from pmm_pipeline.catalogue.load import Catalogue
from pmm_pipeline.ingestion.freeze import input_deadline
from pmm_pipeline.ingestion.history import SUBMISSION_HISTORY_SQL, answer_changes
from pmm_pipeline.ingestion.intake import intake_frames, take_in_cycle
from pmm_pipeline.ingestion.validate import ValidationContext
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.questionnaire.layout import plan_questionnaire
from pmm_pipeline.reference.load import Reference
from pmm_pipeline.resources.storage import PmmStorage
from pmm_pipeline.resources.warehouse import Warehouse
from pmm_pipeline.tables import (
    RAW_ANSWERS,
    RAW_DISCLOSURE,
    RECEIVED_FILES,
    REJECTIONS,
    SUBMISSION_CHANGES,
    SUBMISSION_HISTORY,
    SUBMISSIONS,
    create_tables,
    replace_cycle_rows,
    replace_cycle_rows_from_sql,
)

RAW_TABLES = {
    "received_files": RECEIVED_FILES,
    "submissions": SUBMISSIONS,
    "answers": RAW_ANSWERS,
    "disclosure_choices": RAW_DISCLOSURE,
    "rejections": REJECTIONS,
}


def validation_context(reference: Reference, catalogue: Catalogue, cycle_id: str) -> ValidationContext:
    cycle = reference.cycles.get(cycle_id)
    return ValidationContext(
        cycle=cycle,
        members_in_force=frozenset(reference.members_in_force(cycle)),
        known_members=frozenset(reference.known_member_codes()),
        items=catalogue.items_for_version(cycle.catalogue_version),
        kpi_ids=frozenset(k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)),
        member_languages={code: m.language for code, m in reference.members_in_force(cycle).items()},
        questionnaire_digest=plan_questionnaire(catalogue, cycle).digest,
        timezone=reference.cycles.tz,
    )


def build_ingestion_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="take_in_landing_files",
        specs=[table_spec(t) for t in RAW_TABLES.values()],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        description="Archives every file of landing/<cycle>/ by SHA-256 (earlier versions are read back from the"
        " archive), reads and checks it, and records"
        " accepted submission versions, their answers and choices, or the rejection and quarantined copy.",
    )
    def take_in_landing_files(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse):
        cycle_id = context.partition_key
        layout = storage.layout
        with warehouse.get_connection() as conn:
            create_tables(conn, [RECEIVED_FILES])
            rows = conn.execute(
                "SELECT sha256, file_name, received_at, archive_path FROM raw.received_files WHERE cycle = ?",
                [cycle_id],
            ).fetchall()
        previous = {(sha, name): at for sha, name, at, _ in rows}
        archived_earlier = {(sha, name): path for sha, name, _, path in rows if sha and path}
        result = take_in_cycle(
            landing_dir=layout.landing_dir(cycle_id),
            archive_dir=layout.archive_dir,
            quarantine_dir=layout.quarantine_dir(cycle_id),
            ctx=validation_context(reference, catalogue, cycle_id),
            previously_received=previous,
            now=dt.datetime.now(dt.UTC),
            limits=storage.intake_limits,
            archived_earlier=archived_earlier,
        )
        frames = intake_frames(result, cycle_id, deadline=input_deadline(reference.cycles, cycle_id))
        for rejection in result.rejected:
            context.log.warning(
                f"rejected {rejection.received.file_name}: [{rejection.reason_code}] {rejection.message}"
            )
        with warehouse.get_connection() as conn:
            for name, table in RAW_TABLES.items():
                replace_cycle_rows(conn, table, cycle_id, frames[name])
            for name, table in RAW_TABLES.items():
                metadata = written_table_metadata(conn, table, cycle_id)
                if name == "rejections":
                    metadata["rejected_by_reason"] = dg.MetadataValue.json(
                        frames["rejections"]["reason_code"].value_counts().sort_index().to_dict()
                    )
                    metadata["quarantine_dir"] = dg.MetadataValue.path(str(layout.quarantine_dir(cycle_id)))
                yield dg.MaterializeResult(asset_key=table.key, metadata=metadata)

    @dg.multi_asset(
        name="record_submission_history",
        specs=[
            table_spec(SUBMISSION_CHANGES, deps=[SUBMISSIONS.key, RAW_ANSWERS.key]),
            table_spec(SUBMISSION_HISTORY, deps=[RECEIVED_FILES.key, SUBMISSIONS.key, REJECTIONS.key, SUBMISSION_CHANGES.key]),
        ],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        description="Compares each accepted version of a member with the one before it, answer by answer, and lists"
        " every file received with who sent it, when, and what became of it.",
    )
    def record_submission_history(context: dg.AssetExecutionContext, warehouse: Warehouse):
        cycle_id = context.partition_key
        with warehouse.get_connection() as conn:
            submissions = conn.execute(
                "SELECT member_code, submission_id, version FROM raw.submissions WHERE cycle = ?", [cycle_id]
            ).df()
            answers = conn.execute("SELECT * FROM raw.answers WHERE cycle = ?", [cycle_id]).df()
            replace_cycle_rows(conn, SUBMISSION_CHANGES, cycle_id, answer_changes(submissions, answers, cycle_id))
            replace_cycle_rows_from_sql(conn, SUBMISSION_HISTORY, cycle_id, SUBMISSION_HISTORY_SQL, {"cycle": cycle_id})
            for table in (SUBMISSION_CHANGES, SUBMISSION_HISTORY):
                yield dg.MaterializeResult(asset_key=table.key, metadata=written_table_metadata(conn, table, cycle_id))

    return [take_in_landing_files, record_submission_history]
