"""Dagster wiring of ingestion: the landing folder of a cycle into the raw tables."""

import datetime as dt

import dagster as dg

from pmm_pipeline.orchestration.checks import ARCHIVE_CHECK
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import record_path
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.arrivals import notes_path, read_arrivals
from pmm_pipeline.stages.ingestion.context import validation_context  # noqa: F401 - also imported from here
from pmm_pipeline.stages.ingestion.freeze import input_deadline, members_on_hold
from pmm_pipeline.stages.ingestion.history import SUBMISSION_HISTORY_SQL, answer_changes
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.intake_report import damaged_copies, damaged_copies_description, intake_log_lines
from pmm_pipeline.stages.ingestion.raw_tables import RAW_TABLES, intake_frames, write_raw_tables
from pmm_pipeline.stages.ingestion.read_cache import context_digest, load_cache, save_cache
from pmm_pipeline.stages.ingestion.receipts import (
    WAREHOUSE_RECEIPTS_SQL,
    append_to_ledger,
    check_ledger_covers_warehouse,
    ledger_path,
    ledger_updates,
    read_ledger,
    record_for_intake,
)
from pmm_pipeline.warehouse.tables import (
    RAW_ANSWERS,
    RECEIVED_FILES,
    REJECTIONS,
    SUBMISSION_CHANGES,
    SUBMISSION_HISTORY,
    SUBMISSIONS,
)
from pmm_pipeline.warehouse.writes import create_tables, replace_cycle_rows, replace_cycle_rows_from_sql

# The intake's accepted reads, kept beside the reuse records of the other steps (orchestration/reuse.py).
READS_RECORD = "intake_reads"
LISTED_DAMAGED = 100  # rows of the check's metadata table; the count says how many there are in all


def build_ingestion_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="take_in_landing_files",
        specs=[table_spec(t) for t in RAW_TABLES.values()],
        check_specs=[
            dg.AssetCheckSpec(
                ARCHIVE_CHECK,
                asset=RECEIVED_FILES.key,
                description="Every archived copy read back in this intake still hashes to the SHA-256 it is stored"
                " under; a copy altered or gone is listed here (its version is kept on record, not used).",
            )
        ],
        partitions_def=partitions,
        description="Archives every file of landing/<cycle>/ by SHA-256 (earlier versions are read back from the"
        " archive and verified), records each receipt in archive/receipts/<cycle>.jsonl, reads and checks each"
        " file, and records accepted submission versions, their answers and choices, or the rejection and"
        " quarantined copy.",
    )
    def take_in_landing_files(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse):
        cycle_id = context.partition_key
        layout = storage.layout
        ledger = ledger_path(layout.archive_dir, cycle_id)
        state = read_ledger(ledger)
        with warehouse.get_connection() as conn:
            create_tables(conn, [RECEIVED_FILES, SUBMISSIONS, REJECTIONS])
            warehouse_rows = conn.execute(WAREHOUSE_RECEIPTS_SQL, [cycle_id]).df().to_dict("records")
        # No ledger yet: the warehouse's receipts are taken over; else the warehouse may hold none it lacks.
        check_ledger_covers_warehouse(state, warehouse_rows, ledger)
        earlier, migrated, first_intake_at = record_for_intake(state, warehouse_rows, layout.archive_dir)
        now = dt.datetime.now(dt.UTC)
        limits = storage.intake_limits
        ctx = validation_context(reference, catalogue, cycle_id)
        reads_path = record_path(storage, cycle_id, READS_RECORD)
        reads = load_cache(reads_path, context_digest(ctx, limits))
        result = take_in_cycle(
            landing_dir=layout.landing_dir(cycle_id),
            archive_dir=layout.archive_dir,
            quarantine_dir=layout.quarantine_dir(cycle_id),
            ctx=ctx,
            previously_received={},
            now=now,
            limits=limits,
            earlier=earlier,
            # Read once the landing folder is listed: a platform file's note is on disk before the file is placed.
            arrivals=lambda: read_arrivals(notes_path(layout.archive_dir, cycle_id)),
            reads=reads,
        )
        save_cache(reads_path, reads)
        for line in result.notes_ignored:
            context.log.warning(line)
        first_intake_at = first_intake_at or now
        # On disk before the raw tables: receipt times and the freeze never depend on the warehouse alone.
        append_to_ledger(ledger, ledger_updates(state, [*migrated, *result.receipts], first_intake_at))
        frames = intake_frames(
            result, cycle_id, deadline=input_deadline(reference.cycles, cycle_id), first_intake_at=first_intake_at
        )
        for line in intake_log_lines(frames["rejections"]):
            context.log.warning(line)
        if result.deferred:
            context.log.warning(
                f"{len(result.deferred)} new file(s) left in landing for the next run: at most"
                f" {limits.max_files_per_run} new files are taken in per run (PMM_MAX_FILES_PER_RUN)"
            )
        damaged = damaged_copies(result)
        on_hold = members_on_hold(frames["submissions"])
        description = damaged_copies_description(damaged, on_hold) if len(damaged) else None
        if description:
            context.log.error(description)
        with warehouse.get_connection() as conn:
            write_raw_tables(conn, cycle_id, frames)
            for name, table in RAW_TABLES.items():
                metadata = written_table_metadata(conn, table, cycle_id)
                if name == "rejections":
                    metadata["rejected_by_reason"] = dg.MetadataValue.json(
                        frames["rejections"]["reason_code"].value_counts().sort_index().to_dict()
                    )
                    metadata["quarantine_dir"] = dg.MetadataValue.path(str(layout.quarantine_dir(cycle_id)))
                if name == "received_files":
                    metadata["files_deferred"] = dg.MetadataValue.int(len(result.deferred))
                    if result.deferred:
                        metadata["files_deferred_why"] = dg.MetadataValue.text(
                            f"at most {limits.max_files_per_run} new landing files are taken in per run"
                            " (PMM_MAX_FILES_PER_RUN); the others stay in landing for the next run"
                        )
                    metadata["damaged_copies"] = dg.MetadataValue.int(len(damaged))
                    metadata["archive_copies_repaired"] = dg.MetadataValue.json(result.repaired[:LISTED_DAMAGED])
                    metadata["receipt_ledger"] = dg.MetadataValue.path(str(ledger))
                    metadata["reads_reused"] = dg.MetadataValue.json(
                        {
                            "reused": reads.reused,
                            "read": reads.read,
                            "why": "a version accepted before, with the same bytes, name, receipt and arrival"
                            " note, under the same validation context, limits and code (key: context_digest)"
                            " is not parsed again",
                            "context_digest": reads.shared,
                        }
                    )
                yield dg.MaterializeResult(asset_key=table.key, metadata=metadata)
        yield dg.AssetCheckResult(
            asset_key=RECEIVED_FILES.key,
            check_name=ARCHIVE_CHECK,
            passed=damaged.empty,
            description=description,
            metadata={
                "damaged_copies": dg.MetadataValue.int(len(damaged)),
                "members_on_hold": dg.MetadataValue.json(on_hold),
                "copies": dg.MetadataValue.json(damaged.head(LISTED_DAMAGED).to_dict("records")),
            },
        )

    @dg.multi_asset(
        name="record_submission_history",
        specs=[
            table_spec(SUBMISSION_CHANGES, deps=[SUBMISSIONS.key, RAW_ANSWERS.key]),
            table_spec(
                SUBMISSION_HISTORY, deps=[RECEIVED_FILES.key, SUBMISSIONS.key, REJECTIONS.key, SUBMISSION_CHANGES.key]
            ),
        ],
        partitions_def=partitions,
        description="Compares each accepted version of a member with the one before it, answer by answer, and lists"
        " every file received with who sent it, when, and what became of it.",
    )
    def record_submission_history(context: dg.AssetExecutionContext, warehouse: Warehouse):
        cycle_id = context.partition_key
        with warehouse.get_connection() as conn:
            # A version whose archived copy is damaged has no answers to compare: it is skipped, not "all removed".
            submissions = conn.execute(
                f"SELECT member_code, submission_id, version FROM {SUBMISSIONS.qualified}"
                " WHERE cycle = ? AND coalesce(archive_state, 'intact') = 'intact'",
                [cycle_id],
            ).df()
            answers = conn.execute(f"SELECT * FROM {RAW_ANSWERS.qualified} WHERE cycle = ?", [cycle_id]).df()
            replace_cycle_rows(conn, SUBMISSION_CHANGES, cycle_id, answer_changes(submissions, answers, cycle_id))
            replace_cycle_rows_from_sql(conn, SUBMISSION_HISTORY, cycle_id, SUBMISSION_HISTORY_SQL, {"cycle": cycle_id})
            for table in (SUBMISSION_CHANGES, SUBMISSION_HISTORY):
                yield dg.MaterializeResult(asset_key=table.key, metadata=written_table_metadata(conn, table, cycle_id))

    return [take_in_landing_files, record_submission_history]
