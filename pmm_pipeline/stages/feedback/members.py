"""Which members get a feedback report for a cycle, and each report's bytes and row, from the cycle's problems."""

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pmm_pipeline.core.files import building_folder, recover_folder, switch_folder_in
from pmm_pipeline.specs.catalogue.models import Item
from pmm_pipeline.specs.reference.models import Membership
from pmm_pipeline.stages.feedback.report import FileLine, render_feedback, rows_from_findings, rows_from_rejections

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


@dataclass(frozen=True)
class CycleProblems:
    """What feedback is made from: the cycle's rejected files, quality findings and submission history."""

    rejections: pd.DataFrame
    findings: pd.DataFrame
    history: pd.DataFrame


def load_cycle_problems(conn: duckdb.DuckDBPyConnection, cycle: str) -> CycleProblems:
    """Read when they exist (the quality gate's findings may not), so feedback works with or without them."""
    return CycleProblems(
        rejections=_rows(conn, "raw", "rejections", cycle),
        findings=_rows(conn, "quality", "findings", cycle),
        history=_rows(conn, "staging", "submission_history", cycle),
    )


def build_member_reports(
    problems_of_cycle: CycleProblems,
    memberships: Mapping[str, Membership],
    items: Mapping[str, Item],
    feedback_dir: Path,
    cycle: str,
    today: dt.date,
) -> tuple[dict[Path, bytes], list[dict]]:
    """One report per member with a rejected file or a finding (path -> bytes), and a row per report."""
    rejections, findings, history = problems_of_cycle.rejections, problems_of_cycle.findings, problems_of_cycle.history
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
        path = report_path(feedback_dir, member, cycle)
        reports[path] = render_feedback(
            member,
            membership.name(membership.language),
            cycle,
            membership.language,
            problems,
            files,
            items,
            today,
        )
        rows.append(
            {
                "cycle": cycle,
                "member_code": member,
                "language": membership.language,
                "path": str(path),
                "n_problems": len(problems),
                "n_blocking": sum(p.severity == "blocking" for p in problems),
            }
        )
    return reports, rows


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
