"""Dagster wiring of member feedback: after each run, one validation report per member with problems."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from pmm_pipeline.core.reuse import digest_text
from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import common_inputs, cycle_inputs, reusable
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.feedback.members import (
    FeedbackContext,
    build_member_reports,
    load_cycle_problems,
    write_feedback_folder,
)
from pmm_pipeline.stages.feedback.opening import Correction
from pmm_pipeline.stages.publishing.release import sha256_file
from pmm_pipeline.warehouse.tables import (
    FEEDBACK_REPORTS,
    FINDINGS,
    MEMBER_SUMMARY,
    REJECTIONS,
    SUBMISSION_HISTORY,
    SUBMISSIONS,
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows


def build_feedback_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    spec = table_spec(FEEDBACK_REPORTS)
    # The reports name members and items in the member's language: the reference rows and the catalogue.
    fixed = {"catalogue_digest": catalogue_digest(catalogue), "reference:members": digest_text(reference.memberships)}

    def feedback_inputs(context: dg.AssetExecutionContext, conn, storage: PmmStorage, **_) -> dict[str, str]:
        # The reports say whether the deadline has passed (today's date) and where to send a correction.
        shown = {
            "today": dt.datetime.now(dt.UTC).date().isoformat(),
            "correction": digest_text(storage.platform_url, storage.secretariat_email),
        }
        return common_inputs() | cycle_inputs(reference.cycles.get(context.partition_key)) | fixed | shown

    def feedback_dir(context: dg.AssetExecutionContext, storage: PmmStorage, **_) -> list[Path]:
        return [storage.layout.published_dir(context.partition_key) / "feedback"]

    @dg.asset(
        key=FEEDBACK_REPORTS.key,
        description=f"Writes published/<cycle>/feedback/<member>/feedback_<member>_<cycle>.xlsx for every member with"
        f" a file on record, in the member's language, opening with the verdict. {FEEDBACK_REPORTS.row}",
        group_name=FEEDBACK_REPORTS.schema,
        # What the verdict opening reads besides the problems: the versions on record and the gate's outcome.
        # quality.findings: built by the quality gate, read when it exists, so feedback works with or without it.
        deps=[REJECTIONS.key, SUBMISSION_HISTORY.key, FINDINGS.key, SUBMISSIONS.key, MEMBER_SUMMARY.key],
        partitions_def=partitions,
        kinds={"duckdb", "excel"},
        owners=spec.owners,
        metadata=spec.metadata,
    )
    @reusable(feedback_inputs, feedback_dir)
    def member_reports(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse):
        cycle = reference.cycles.get(context.partition_key)
        with warehouse.get_connection() as conn:
            problems = load_cycle_problems(conn, cycle.id)
        memberships = {
            m.member_code: m for m in reference.memberships
        }  # any row: a rejected member may be out of force
        memberships.update(reference.members_in_force(cycle))
        items = catalogue.items_for_version(cycle.catalogue_version)
        feedback_dir = storage.layout.published_dir(cycle.id) / "feedback"
        today = dt.datetime.now(dt.UTC).date()
        kpis = catalogue.kpis_for_version(cycle.catalogue_version)
        opening_context = FeedbackContext(
            cycle,
            Correction(storage.platform_url, storage.secretariat_email),
            {lang: {k.id: k.names.in_language(lang) for k in kpis} for lang in LANGUAGES},
        )
        reports, rows = build_member_reports(
            problems, memberships, items, feedback_dir, cycle.id, today, opening_context
        )
        write_feedback_folder(feedback_dir, reports, context.run_id)
        table = pd.DataFrame(rows, columns=[c for c in FEEDBACK_REPORTS.column_names if c != "sha256"])
        table["sha256"] = [sha256_file(Path(p)) for p in table["path"]]
        with warehouse.get_connection() as conn:
            replace_cycle_rows(conn, FEEDBACK_REPORTS, cycle.id, table)
            metadata = written_table_metadata(conn, FEEDBACK_REPORTS, cycle.id)
        metadata["feedback_dir"] = dg.MetadataValue.path(str(feedback_dir))
        metadata["members_with_reports"] = dg.MetadataValue.json(sorted(table["member_code"]))
        return dg.MaterializeResult(metadata=metadata)

    return [member_reports]
