"""`pmm trace`: how one KPI value of one member was derived and where it went, as a Trace (trace_model.py).

Built from the warehouse as the last run left it: the member's submission version and its answers
(staging.answers, with comments and places in the file), the quality gate's outcome and findings, the
KPI values, lineage.provenance (run and versions), disclosure.withheld, each tier's published tables and,
when the data folder is given, the published files themselves (the row's line, and whether the file
says the same). Numbers are never formatted lossily: an answer is shown as its double in plain decimal
notation with every digit (`exact_decimal`), a computed value as Python's repr.

A value without a number says why: the inputs not applicable or not reported, the denominator that is
zero (the formula is evaluated again on the inputs shown, recompute.py), or the blocking findings that kept
the member out (reasons.py). Each series with its inputs and rules is trace_series.py; where the value went is
publication.py; the trace as text, with member-supplied text
printed inert so a comment cannot rewrite the auditor's terminal, is render.py.
"""

from pathlib import Path

import duckdb

from pmm_pipeline.core.text import printable
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.stages.lineage.as_written import ArchivedFile, archive_intact
from pmm_pipeline.stages.lineage.publication import Publication
from pmm_pipeline.stages.lineage.reads import column_names, iso_time, plain, records, rows, table_names
from pmm_pipeline.stages.lineage.trace_model import (
    FORMAT,
    FORMAT_VERSION,
    Gate,
    RuleInfo,
    Run,
    Submission,
    Trace,
)
from pmm_pipeline.stages.lineage.trace_series import trace_finding, trace_series
from pmm_pipeline.stages.quality.rules import RULES
from pmm_pipeline.warehouse.tables import (
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PARTICIPATION,
    PROVENANCE,
    RECEIVED_FILES,
    REJECTIONS,
    STAGED_ANSWERS,
    SUBMISSIONS,
)

# Columns of the raw record that say which account sent a file and through which channel. They are read
# when the warehouse has them (older warehouses do not), from the submission's record or its file's.
ACCOUNT_COLUMNS = ("channel", "account")


class TraceError(Exception):
    """Nothing to trace for the arguments given (no lineage, no value); one line for the user."""


def _not_participating(conn, tables: set[str], cycle_id: str, member: str, kpi_id: str) -> TraceError:
    """Why a member has no value at all: versions on record but none in use, rejected files, or nothing received."""
    head = f"no value of {kpi_id} for member {member} in cycle {cycle_id}: {member}"
    versions = rows(
        conn,
        tables,
        SUBMISSIONS,
        "cycle = ? AND member_code = ? ORDER BY version",
        [cycle_id, member],
        "version, is_frozen_out, archive_state",
    )
    if versions:
        states = ", ".join(
            f"v{v['version']} "
            + (
                "frozen out (first seen after the inputs were frozen)"
                if v["is_frozen_out"]
                else str(v["archive_state"])
            )
            for v in versions
        )
        return TraceError(f"{head} has accepted versions but none in use: {states}")
    rejected = rows(
        conn, tables, REJECTIONS, "cycle = ? AND member_code = ? ORDER BY received_at, file_name", [cycle_id, member]
    )
    if not rejected:
        return TraceError(f"{head} has no accepted submission (no file received from it)")
    shown = ", ".join(f"{printable(r['file_name'])} ({r['reason_code']})" for r in rejected[:5])
    more = f" and {len(rejected) - 5} more" if len(rejected) > 5 else ""
    return TraceError(f"{head} has no accepted submission; rejected: {shown}{more}")


def load_trace(
    conn: duckdb.DuckDBPyConnection,
    cycle_id: str,
    member_code: str,
    kpi: KpiSpec,
    catalogue: Catalogue,
    data_dir: Path | None = None,
) -> Trace:
    """The trace of `kpi` for `member_code` in `cycle_id`; `data_dir` adds the published files' rows."""
    tables = table_names(conn)
    if PROVENANCE.qualified not in tables:
        raise TraceError(f"no lineage in the warehouse yet: run the cycle first (pmm run --cycle {cycle_id})")
    participation = records(
        conn,
        f"SELECT * FROM {PARTICIPATION.qualified} WHERE cycle = ? AND member_code = ?",
        [cycle_id, member_code],
    )
    if not participation or not participation[0].get("is_participating") or not participation[0]["submission_id"]:
        raise _not_participating(conn, tables, cycle_id, member_code, kpi.id)
    member = participation[0]
    submission_id = member["submission_id"]
    summary = records(
        conn,
        f"SELECT * FROM {MEMBER_SUMMARY.qualified} WHERE cycle = ? AND member_code = ?",
        [cycle_id, member_code],
    )
    admitted = bool(summary and summary[0].get("is_admitted"))
    values = {
        v["series"]: v
        for v in records(
            conn,
            f"SELECT * FROM {KPI_VALUES.qualified} WHERE cycle = ? AND member_code = ? AND kpi_id = ?",
            [cycle_id, member_code, kpi.id],
        )
    }
    if admitted and not values:
        raise TraceError(f"no value of {kpi.id} for member {member_code} in cycle {cycle_id}")
    provenance = records(
        conn,
        f"SELECT * FROM {PROVENANCE.qualified} WHERE cycle = ? AND member_code = ? AND kpi_id = ?"
        " ORDER BY series, year DESC, item",
        [cycle_id, member_code, kpi.id],
    )
    if admitted and not provenance:
        raise TraceError(f"no lineage of {kpi.id} for member {member_code} in cycle {cycle_id}: run the cycle again")
    run = (
        provenance[0]
        if provenance
        else next(iter(records(conn, f"SELECT * FROM {PROVENANCE.qualified} WHERE cycle = ? LIMIT 1", [cycle_id])), {})
    )
    answers = {
        (a["item"], int(a["year"])): a
        for a in records(
            conn,
            f"SELECT * FROM {STAGED_ANSWERS.qualified} WHERE cycle = ? AND member_code = ? AND submission_id = ?",
            [cycle_id, member_code, submission_id],
        )
    }
    findings = (
        records(
            conn,
            f"SELECT * FROM {FINDINGS.qualified} WHERE cycle = ? AND member_code = ? AND submission_id = ?"
            " ORDER BY rule, item, year",
            [cycle_id, member_code, submission_id],
        )
        if FINDINGS.qualified in tables
        else []
    )
    reporting_year = int(run.get("reporting_year") or next(iter(values.values()), {}).get("reporting_year") or 0)
    if not reporting_year:
        raise TraceError(f"no lineage of cycle {cycle_id} in the warehouse: run the cycle first")
    blocking = [trace_finding(f) for f in findings if f["severity"] == "blocking"]
    gate = Gate(
        is_admitted=admitted,
        rules_run=summary[0].get("rules_run") if summary else None,
        blocking_failed=len(blocking),
        warnings=sum(1 for f in findings if f["severity"] == "warning"),
        blocking_findings=blocking,
    )
    publication = Publication(conn, tables, cycle_id, member_code, kpi, data_dir)
    submission = _submission(conn, tables, cycle_id, submission_id)
    # The answers as written are read back only from an archived copy that still hashes to the submission.
    archived = (
        ArchivedFile(Path(submission.archive_path), submission.format, submission.submission_id)
        if submission.archive_intact
        else None
    )
    series = [
        trace_series(
            kpi,
            s.id,
            s.formula,
            catalogue.formulas[(kpi.id, s.id)],
            reporting_year,
            values.get(s.id),
            answers,
            findings,
            member["version"],
            gate,
            publication,
            member,
            archived,
        )
        for s in kpi.series
    ]
    return Trace(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        cycle=cycle_id,
        reporting_year=reporting_year,
        member_code=member_code,
        member_name=member.get("member_name"),
        kpi_id=kpi.id,
        kpi_name=kpi.names.en,
        member_state="admitted" if admitted else "blocked",
        submission=submission,
        gate=gate,
        series=series,
        rules_checked=[
            RuleInfo(rule=r.id, severity=r.severity.value, engine=r.engine.value, holds_when=r.holds_when)
            for r in RULES
        ],
        run=Run(
            run_id=run.get("run_id"),
            code_version=run.get("code_version"),
            catalogue_version=run.get("catalogue_version"),
            catalogue_digest=run.get("catalogue_digest"),
        ),
    )


def _submission(conn, tables: set[str], cycle_id: str, submission_id: str) -> Submission:
    rows = records(
        conn, f"SELECT * FROM {SUBMISSIONS.qualified} WHERE cycle = ? AND submission_id = ?", [cycle_id, submission_id]
    )
    row = rows[0] if rows else {}
    account = {c: row.get(c) for c in ACCOUNT_COLUMNS}
    missing = [c for c in ACCOUNT_COLUMNS if account[c] is None]
    if missing and RECEIVED_FILES.qualified in tables:
        present = [c for c in missing if c in column_names(conn, RECEIVED_FILES.schema, RECEIVED_FILES.name)]
        if present:
            found = conn.execute(
                f"SELECT {', '.join(present)} FROM {RECEIVED_FILES.qualified} WHERE cycle = ? AND sha256 = ?"
                " ORDER BY received_at LIMIT 1",
                [cycle_id, submission_id],
            ).fetchall()
            if found:
                account |= {c: plain(v) for c, v in zip(present, found[0], strict=True)}
    path = row.get("archive_path")
    return Submission(
        archive_intact=archive_intact(Path(path), submission_id) if path else None,
        submission_id=submission_id,
        version=row.get("version"),
        file_name=row.get("file_name"),
        format=row.get("format"),
        submitted_at=iso_time(row.get("submitted_at")),
        received_at=iso_time(row.get("received_at")),
        archive_path=row.get("archive_path"),
        archive_state=row.get("archive_state"),
        sent_by=row.get("sent_by"),
        channel=None if account["channel"] is None else str(account["channel"]),
        account=None if account["account"] is None else str(account["account"]),
    )
