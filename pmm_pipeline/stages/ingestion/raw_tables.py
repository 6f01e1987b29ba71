"""The raw tables of a cycle: their rows built from what the intake made of its files, and written all at once.

Received files, submission versions (numbered by stages/ingestion/versions.py, marked in use or not by
stages/ingestion/freeze.py), answers, disclosure choices and rejections; every text in them storable.
"""

import datetime as dt
import json
from collections.abc import Mapping

import duckdb
import pandas as pd

from pmm_pipeline.stages.ingestion.freeze import VERSION_USE_COLUMNS, InputDeadline, mark_versions_in_use
from pmm_pipeline.stages.ingestion.outcomes import IntakeResult, ReceivedFile, duplicate_problem
from pmm_pipeline.stages.ingestion.problem_lists import listed_problems, problems_message
from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.text import storable_text
from pmm_pipeline.stages.ingestion.versions import version_order
from pmm_pipeline.warehouse.tables import RAW_ANSWERS, RAW_DISCLOSURE, RECEIVED_FILES, REJECTIONS, SUBMISSIONS
from pmm_pipeline.warehouse.writes import replace_cycle_rows_of_tables

ARCHIVE_INTACT = "intact"


def _sent_by(contact: Mapping[str, str]) -> str | None:
    """`Name <e-mail>` of the contact person a questionnaire names, or what of it is given."""
    name, email = contact.get("contact_name"), contact.get("contact_email")
    if name and email:
        return f"{name} <{email}>"
    return name or email


def storable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text of a frame as UTF-8 can hold it (DuckDB refuses lone surrogates, and so would the whole step)."""
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(storable_text)
    return frame


def intake_frames(
    result: IntakeResult,
    cycle: str,
    deadline: InputDeadline | None = None,
    first_intake_at: dt.datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """The raw tables' rows for a cycle: received files, submission versions, answers, choices, rejections.

    With the cycle's `deadline`, versions first seen after the inputs were frozen are kept but not used
    (see stages/ingestion/freeze.py); `first_intake_at` is the cycle's first intake as the ledger records it
    (default: the earliest receipt taken in). A version whose archived copy is damaged keeps its place
    and number, and is never used.
    """
    accepted_hashes = {a.received.sha256 for a in result.accepted}
    rejected_hashes = {r.received.sha256 for r in result.rejected}
    duplicates = {(d.received.sha256, d.received.file_name) for d in result.duplicates}
    damaged = {(d.received.sha256, d.received.file_name): d for d in result.damaged}

    def outcome(r: ReceivedFile) -> str:
        if (r.sha256, r.file_name) in damaged:
            return damaged[(r.sha256, r.file_name)].state
        if (r.sha256, r.file_name) in duplicates:
            return "duplicate"
        return "accepted" if r.sha256 in accepted_hashes else "rejected" if r.sha256 in rejected_hashes else "unread"

    received = pd.DataFrame(
        [
            {
                "cycle": cycle,
                **{k: getattr(r, k) for k in ("sha256", "file_name", "size_bytes", "received_at", "archive_path")},
                "outcome": outcome(r),
                "channel": r.channel,
                "account": r.account,
            }
            for r in result.received
        ],
        columns=RECEIVED_FILES.column_names,
    )

    # A damaged version that was accepted when last read keeps its place among the member's versions.
    versions_in_order = [
        (a.submission.member_code, a.submission.submitted_at, a.received, a, None) for a in result.accepted
    ] + [
        (d.record.member_code, d.record.submitted_at, d.received, None, d)
        for d in result.damaged
        if d.record.outcome == "accepted" and d.record.member_code and d.record.submitted_at
    ]
    versions_in_order.sort(key=lambda v: (v[0], *version_order(v[1], v[2].received_at, v[2].sha256, v[2].file_name)))
    versions: dict[str, int] = {}
    submission_rows, answer_rows, choice_rows = [], [], []
    for member, submitted_at, rec, a, d in versions_in_order:
        versions[member] = versions.get(member, 0) + 1
        s = a.submission if a else None
        submission_rows.append(
            {
                "cycle": cycle,
                "submission_id": rec.sha256,
                "member_code": member,
                "submitted_at": submitted_at,
                "received_at": rec.received_at,
                "file_name": rec.file_name,
                "format": s.format if s else d.record.format,
                "archive_path": rec.archive_path,
                "n_answers": len(s.answers) if s else d.record.n_answers,
                "sent_by": _sent_by(s.contact) if s else None,
                "version": versions[member],
                "archive_state": ARCHIVE_INTACT if s else d.state,
                "channel": rec.channel,
                "account": rec.account,
            }
        )
        if s is None:
            continue
        for ans in s.answers:
            answer_rows.append(
                {
                    "cycle": cycle,
                    "submission_id": rec.sha256,
                    "member_code": member,
                    "item": ans.item,
                    "year": ans.year,
                    "value": ans.value,
                    "value_text": ans.value_text,
                    "status": ans.status,
                    "comment": ans.comment,
                    "source_file": rec.file_name,
                    "source_pointer": ans.location.pointer,
                    "source_sheet": ans.location.sheet,
                    "source_cell": ans.location.cell,
                    "source_line": ans.location.line,
                }
            )
        for kpi_id, level in sorted(s.disclosure.items()):
            choice_rows.append(
                {
                    "cycle": cycle,
                    "submission_id": rec.sha256,
                    "member_code": member,
                    "kpi_id": kpi_id,
                    "disclosure": level,
                }
            )
    if first_intake_at is None:
        first_intake_at = min((r.received_at for r in result.received), default=None)
    submissions = mark_versions_in_use(
        pd.DataFrame(submission_rows, columns=[c for c in SUBMISSIONS.column_names if c not in VERSION_USE_COLUMNS]),
        first_intake_at=first_intake_at,
        deadline=deadline,
    )

    def rejection_row(rec: ReceivedFile, problems: list[Problem], where: str | None, member: str | None) -> dict:
        listed = listed_problems(problems)
        return {
            "cycle": cycle,
            "sha256": rec.sha256,
            "file_name": rec.file_name,
            "received_at": rec.received_at,
            "reason_code": problems[0].code,
            "message": problems_message(problems),
            "problems": json.dumps(listed),
            "quarantine_path": where,
            "member_code": member,
            "channel": rec.channel,
            "account": rec.account,
        }

    rejection_rows = [rejection_row(r.received, r.problems, r.quarantine_path, r.member_code) for r in result.rejected]
    for d in result.duplicates:
        # Recorded so that the sender hears of it; the bytes are those of the original, already archived.
        rejection_rows.append(rejection_row(d.received, [duplicate_problem(d.original)], None, d.member_code))
    for d in result.damaged:
        # On record, loud, and told to the member named by the content when it was read: it must be sent again.
        rejection_rows.append(rejection_row(d.received, [Problem(d.state, d.message)], None, d.record.member_code))
    rejections = pd.DataFrame(rejection_rows, columns=REJECTIONS.column_names)
    frames = {
        "received_files": received,
        "submissions": submissions,
        "answers": pd.DataFrame(answer_rows, columns=RAW_ANSWERS.column_names).astype(
            {"value": "float64", "year": "int64", "source_line": "Int64"}
        ),
        "disclosure_choices": pd.DataFrame(choice_rows, columns=RAW_DISCLOSURE.column_names),
        "rejections": rejections,
    }
    return {name: storable_frame(frame) for name, frame in frames.items()}


RAW_TABLES = {
    "received_files": RECEIVED_FILES,
    "submissions": SUBMISSIONS,
    "answers": RAW_ANSWERS,
    "disclosure_choices": RAW_DISCLOSURE,
    "rejections": REJECTIONS,
}


def write_raw_tables(conn: duckdb.DuckDBPyConnection, cycle: str, frames: Mapping[str, pd.DataFrame]) -> None:
    """Replace the cycle's rows of the five raw tables in one transaction: all of them, or none."""
    replace_cycle_rows_of_tables(conn, cycle, [(table, frames[name]) for name, table in RAW_TABLES.items()])
