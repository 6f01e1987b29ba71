"""Dagster wiring of member feedback: after each run, one validation report per member with problems."""

import datetime as dt
import re
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.stages.feedback.report import FileLine, render_feedback, rows_from_findings, rows_from_rejections
from pmm_pipeline.core.files import building_folder, recover_folder, switch_folder_in
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.table_assets import table_spec, written_table_metadata
from pmm_pipeline.stages.publishing.release import sha256_file
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.warehouse.tables import FEEDBACK_REPORTS, REJECTIONS, SUBMISSION_HISTORY
from pmm_pipeline.warehouse.writes import replace_cycle_rows

# Built by the quality gate; read when it exists, so feedback works with or without it.
FINDINGS_KEY = dg.AssetKey(["quality", "findings"])
MEMBER_CODE = re.compile(r"^[A-Z]{3}$")  # also what makes a member code safe as a folder name


def report_path(feedback_dir: Path, member: str, cycle: str) -> Path:
    return feedback_dir / member / f"feedback_{member}_{cycle}.xlsx"


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )


def _rows(conn: duckdb.DuckDBPyConnection, schema: str, name: str, cycle: str) -> pd.DataFrame:
    if not _table_exists(conn, schema, name):
        return pd.DataFrame(columns=["member_code"])
    # schema and name are constants of this module, never input.
    return conn.execute(f"SELECT * FROM {schema}.{name} WHERE cycle = ? AND member_code IS NOT NULL", [cycle]).df()


def write_feedback_folder(feedback_dir: Path, reports: dict[Path, bytes], run_id: str) -> None:
    """Replace `published/<cycle>/feedback/` whole: a member whose problems are gone loses its old report.

    Built beside it and switched in one step, so a member never finds the folder half-written or,
    after a killed run, missing (the warehouse's turn excludes other writers of it).
    """
    recover_folder(feedback_dir)
    building = building_folder(feedback_dir, run_id)
    building.mkdir(parents=True)
    for path, data in reports.items():
        target = building / path.relative_to(feedback_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    switch_folder_in(building, feedback_dir)


def build_feedback_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    spec = table_spec(FEEDBACK_REPORTS)

    @dg.asset(
        key=FEEDBACK_REPORTS.key,
        description=f"Writes published/<cycle>/feedback/<member>/feedback_<member>_<cycle>.xlsx for every member with"
        f" a rejected file or a quality finding, in the member's language. {FEEDBACK_REPORTS.row}",
        group_name=FEEDBACK_REPORTS.schema,
        deps=[REJECTIONS.key, SUBMISSION_HISTORY.key, FINDINGS_KEY],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "excel"},
        owners=spec.owners,
        metadata=spec.metadata,
    )
    def member_reports(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse):
        cycle = reference.cycles.get(context.partition_key)
        with warehouse.get_connection() as conn:
            rejections = _rows(conn, "raw", "rejections", cycle.id)
            findings = _rows(conn, "quality", "findings", cycle.id)
            history = _rows(conn, "staging", "submission_history", cycle.id)
        memberships = {
            m.member_code: m for m in reference.memberships
        }  # any row: a rejected member may be out of force
        memberships.update(reference.members_in_force(cycle))
        items = catalogue.items_for_version(cycle.catalogue_version)
        feedback_dir = storage.layout.published_dir(cycle.id) / "feedback"
        today = dt.datetime.now(dt.UTC).date()
        reports: dict[Path, bytes] = {}
        rows = []
        members = sorted(set(rejections["member_code"]) | set(findings["member_code"]))
        for member in members:
            if not MEMBER_CODE.match(str(member)) or member not in memberships:
                continue
            problems = rows_from_rejections(rejections[rejections["member_code"] == member]) + rows_from_findings(
                findings[findings["member_code"] == member]
            )
            if not problems:
                continue
            membership = memberships[member]
            files = [
                FileLine(
                    h.file_name,
                    h.received_at,
                    h.outcome,
                    None if pd.isna(h.version) else int(h.version),
                    bool(h.is_latest) if not pd.isna(h.is_latest) else False,
                    None if pd.isna(h.reason_code) else h.reason_code,
                )
                for h in history[history["member_code"] == member].itertuples(index=False)
            ]
            path = report_path(feedback_dir, member, cycle.id)
            reports[path] = render_feedback(
                member,
                membership.name(membership.language),
                cycle.id,
                membership.language,
                problems,
                files,
                items,
                today,
            )
            rows.append(
                {
                    "cycle": cycle.id,
                    "member_code": member,
                    "language": membership.language,
                    "path": str(path),
                    "n_problems": len(problems),
                    "n_blocking": sum(p.severity == "blocking" for p in problems),
                }
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
