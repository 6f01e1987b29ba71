"""Which members get a feedback report for a cycle, and each report's bytes and row, from the cycle's record:
every member with a file on record, each report opening with the verdict on its submission."""

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pmm_pipeline.core.files import building_folder, recover_folder, switch_folder_in
from pmm_pipeline.specs.catalogue.models import Item
from pmm_pipeline.specs.reference.models import Cycle, Membership
from pmm_pipeline.stages.feedback.opening import Correction, Opening
from pmm_pipeline.stages.feedback.report import FileLine, render_feedback, rows_from_findings, rows_from_rejections
from pmm_pipeline.stages.feedback.verdict import Gate, Rejected, Verdict, Version, deadline_of, decide_verdict
from pmm_pipeline.warehouse.reads import table_exists
from pmm_pipeline.warehouse.tables import FINDINGS, MEMBER_SUMMARY, REJECTIONS, SUBMISSION_HISTORY, SUBMISSIONS, Table

MEMBER_CODE = re.compile(r"^[A-Z]{3}$")  # also what makes a member code safe as a folder name


def report_path(feedback_dir: Path, member: str, cycle: str) -> Path:
    return feedback_dir / member / f"feedback_{member}_{cycle}.xlsx"


def _rows(conn: duckdb.DuckDBPyConnection, table: Table, cycle: str) -> pd.DataFrame:
    if not table_exists(conn, table):
        return pd.DataFrame(columns=["member_code"])
    # The table is a declaration of warehouse/tables/, never input.
    return conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ? AND member_code IS NOT NULL", [cycle]).df()


@dataclass(frozen=True)
class CycleProblems:
    """What feedback is made from: the cycle's rejected files, quality findings and submission history."""

    rejections: pd.DataFrame
    findings: pd.DataFrame
    history: pd.DataFrame
    versions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["member_code"]))  # raw.submissions
    gate: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["member_code"]))  # quality.member_summary

    def by_member(self) -> dict[str, "CycleProblems"]:
        """Each member's rows alone, in the order they had (one grouping per table instead of a filter of every
        table per member, which made a cycle's reports grow as members times rows)."""
        frames = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        groups: dict[str, dict[str, pd.DataFrame]] = {}
        for name, frame in frames.items():
            for member, rows in frame.groupby("member_code", sort=False):
                groups.setdefault(member, {})[name] = rows
        return {
            member: CycleProblems(**{name: own.get(name, frames[name].iloc[0:0]) for name in frames})
            for member, own in groups.items()
        }


def load_cycle_problems(conn: duckdb.DuckDBPyConnection, cycle: str) -> CycleProblems:
    """Read when they exist (the quality gate's tables may not), so feedback works with or without them."""
    return CycleProblems(
        rejections=_rows(conn, REJECTIONS, cycle),
        findings=_rows(conn, FINDINGS, cycle),
        history=_rows(conn, SUBMISSION_HISTORY, cycle),
        versions=_rows(conn, SUBMISSIONS, cycle),
        gate=_rows(conn, MEMBER_SUMMARY, cycle),
    )


def _present(value) -> bool:
    return value is not None and not (not isinstance(value, str) and pd.isna(value))


# Warnings that say a KPI cannot be computed from the version in use (an answer it needs is missing).
KPI_MISSING_RULES = ("required_items_present", "variation_years_present")


def member_verdict(problems_of_cycle: CycleProblems, member: str) -> Verdict:
    """The verdict of one member, from its rows of the cycle's record."""
    versions_of = problems_of_cycle.versions[problems_of_cycle.versions["member_code"] == member]
    versions = [
        Version(
            version=int(v["version"]),
            file_name=str(v["file_name"]),
            sha256=str(v["submission_id"]),
            file_format=v.get("format") if _present(v.get("format")) else None,
            received_at=v.get("received_at"),
            submitted_at=v.get("submitted_at"),
            is_latest=bool(v["is_latest"]) if _present(v.get("is_latest")) else False,
            is_late=bool(v["is_late"]) if _present(v.get("is_late")) else False,
            is_frozen_out=bool(v["is_frozen_out"]) if _present(v.get("is_frozen_out")) else False,
            archive_state=str(v["archive_state"]) if _present(v.get("archive_state")) else "intact",
        )
        for v in versions_of.to_dict("records")
    ]
    rejections = problems_of_cycle.rejections
    rejected = [
        Rejected(str(r["file_name"]), r.get("received_at"), str(r["reason_code"]))
        for r in rejections[rejections["member_code"] == member].to_dict("records")
        if r.get("reason_code") != "duplicate_file"
    ]
    summary = problems_of_cycle.gate[problems_of_cycle.gate["member_code"] == member]
    gate = None
    if len(summary):
        row = summary.iloc[0]
        gate = Gate(bool(row["is_admitted"]), int(row["blocking_failed"]), int(row["warnings"]))
    findings = problems_of_cycle.findings
    kpis: list[str] = []
    if {"rule", "kpi_id"} <= set(findings.columns):
        missing = findings[(findings["member_code"] == member) & findings["rule"].isin(KPI_MISSING_RULES)]
        kpis = [k for k in missing["kpi_id"] if isinstance(k, str)]
    return decide_verdict(versions, rejected, gate, kpis)


@dataclass(frozen=True)
class FeedbackContext:
    """What every report of the cycle opens with: the cycle's calendar, where to send corrections, KPI names."""

    cycle: Cycle
    correction: Correction
    kpi_names: Mapping[str, Mapping[str, str]]  # language -> KPI id -> name


def build_member_reports(
    problems_of_cycle: CycleProblems,
    memberships: Mapping[str, Membership],
    items: Mapping[str, Item],
    feedback_dir: Path,
    cycle: str,
    today: dt.date,
    context: FeedbackContext | None = None,
) -> tuple[dict[Path, bytes], list[dict]]:
    """One report per member with a file on record or a finding (path -> bytes), and a row per report.

    With `context`, each report opens with the member's verdict, the deadline, where to send a correction and,
    when the submission passed, its receipt.
    """
    rejections, findings = problems_of_cycle.rejections, problems_of_cycle.findings
    reports: dict[Path, bytes] = {}
    rows = []
    with_files = (
        set(rejections["member_code"]) | set(findings["member_code"]) | set(problems_of_cycle.versions["member_code"])
    )
    of_member = problems_of_cycle.by_member()
    for member in sorted(m for m in with_files if isinstance(m, str)):
        if not MEMBER_CODE.match(str(member)) or member not in memberships:
            continue
        own = of_member[member]  # with_files lists members with rows only
        problems = rows_from_rejections(own.rejections) + rows_from_findings(own.findings)
        verdict = member_verdict(own, member)
        if not problems and verdict.in_use is None and not verdict.newer_unused:
            continue
        membership = memberships[member]
        lang = membership.language
        files = [
            FileLine(
                h.file_name,
                h.received_at,
                h.outcome,
                None if pd.isna(h.version) else int(h.version),
                bool(h.is_latest) if not pd.isna(h.is_latest) else False,
                None if pd.isna(h.reason_code) else h.reason_code,
            )
            for h in own.history.itertuples(index=False)
        ]
        opening = None
        if context is not None:
            window = context.cycle.collection
            opening = Opening(
                verdict=verdict,
                deadline=deadline_of(window.opens, window.closes, context.cycle.reopened_until, today),
                correction=context.correction,
                publication_date=context.cycle.publication_date,
                kpi_names=context.kpi_names.get(lang, {}),
            )
        path = report_path(feedback_dir, member, cycle)
        reports[path] = render_feedback(
            member, membership.name(lang), cycle, lang, problems, files, items, today, opening
        )
        rows.append(
            {
                "cycle": cycle,
                "member_code": member,
                "language": lang,
                "path": str(path),
                "n_problems": len(problems),
                "n_blocking": sum(p.severity == "blocking" for p in problems),
                "outcome": verdict.outcome.value,
                "version_used": verdict.version_used,
                "has_receipt": verdict.has_receipt,
            }
        )
    return reports, rows


def write_feedback_folder(feedback_dir: Path, reports: dict[Path, bytes], run_id: str) -> None:
    """Replace `published/<cycle>/feedback/` whole: a member no longer on record loses its old report.

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
