"""`pmm trace`: how one KPI value of one member was derived and where it went, as a Trace (trace_model.py).

Built from the warehouse as the last run left it: the member's submission version and its answers
(staging.answers, with comments and places in the file), the quality gate's outcome and findings, the
KPI values, lineage.provenance (run and versions), disclosure.withheld, each tier's published tables and,
when the data folder is given, the published files themselves (the row's line, and whether the file
says the same). Numbers are never formatted lossily: an answer is shown as its double in plain decimal
notation with every digit (`exact_decimal`), a computed value as Python's repr.

A value without a number says why: the inputs not applicable or not reported, the denominator that is
zero (the formula is evaluated again on the inputs shown, `evaluate`), or the blocking findings that kept
the member out. Member-supplied text is printed with control characters escaped (`printable`), so a
comment cannot rewrite the auditor's terminal.
"""

import csv
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd
from sqlglot import exp

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.stages.disclosure.facts import NUMERIC_STATISTICS, VALUE, split_level_series, visible_in
from pmm_pipeline.stages.lineage.as_written import ArchivedFile, archive_intact, exact_decimal
from pmm_pipeline.stages.lineage.trace_model import (
    FORMAT,
    FORMAT_VERSION,
    Finding,
    Gate,
    Input,
    Place,
    PublishedFile,
    Reason,
    RollupFeed,
    RollupTier,
    RuleInfo,
    RuleResult,
    Run,
    Series,
    Submission,
    TierPublication,
    Trace,
)
from pmm_pipeline.stages.quality.rules import RULES
from pmm_pipeline.warehouse.tables import (
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PARTICIPATION,
    PROVENANCE,
    RECEIVED_FILES,
    REJECTIONS,
    ROLLUPS,
    STAGED_ANSWERS,
    SUBMISSIONS,
    WITHHELD,
    published_tables,
)

# Columns of the raw record that say which account sent a file and through which channel. They are read
# when the warehouse has them (older warehouses do not), from the submission's record or its file's.
ACCOUNT_COLUMNS = ("channel", "account")
# The member's group of each grouping the rollups compare (staging.participation's columns); plus global/all.
GROUP_COLUMNS = {
    "region": "region_code",
    "income_group": "income_group",
    "landlocked": "landlocked",
    "admin_type": "admin_type",
}


class TraceError(Exception):
    """Nothing to trace for the arguments given (no lineage, no value); one line for the user."""


# --- numbers and text ---------------------------------------------------------------------------------------
def printable(text: object) -> str:
    """Member text for a terminal: control and bidirectional-override characters escaped, on one line."""
    out = []
    for char in str(text):
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0 or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            out.append(f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)


def _given(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return value != ""


def _opt(value: object):
    """A cell as a plain Python value, None for SQL NULL (pandas' NaN, NA, NaT)."""
    if not _given(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _time(value: object) -> str | None:
    if not _given(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.isoformat()


# --- the formula, evaluated again on the inputs shown ---------------------------------------------------------
_REFERENCE = re.compile(r"[A-Za-z_]\w*\[T(?:-1)?\]")
_T_MINUS_1 = re.compile(r"\[T\s*-\s*1\]")  # sqlglot writes item[T - 1]; the catalogue and the trace say item[T-1]


class _Undefined(Exception):
    pass


def evaluate(formula: Formula, values: Mapping[ItemRef, float | None]) -> tuple[float | None, list[str]]:
    """The formula's value on `values` and the denominators (as written in the formula) that are zero.

    None when an input has no number. The arithmetic is the KPI stage's (doubles, division by zero is no
    value), so a reported value and its recomputation are the same double.
    """
    zero: list[str] = []

    def ev(node: exp.Expression) -> float | None:
        if isinstance(node, exp.Paren):
            return ev(node.this)
        if isinstance(node, exp.Literal):
            return float(node.this)
        if isinstance(node, exp.Bracket):
            ref = ItemRef(node.this.name, _offset(node))
            found = values.get(ref)
            return None if found is None else float(found)
        if isinstance(node, exp.Neg):
            inner = ev(node.this)
            return None if inner is None else -inner
        if isinstance(node, (exp.Abs,)):
            inner = ev(node.this)
            return None if inner is None else abs(inner)
        if isinstance(node, (exp.Least, exp.Greatest)):
            args = [ev(a) for a in [node.this, *node.expressions]]
            if any(a is None for a in args):
                return None
            return min(args) if isinstance(node, exp.Least) else max(args)
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
            left, right = ev(node.this), ev(node.expression)
            if isinstance(node, exp.Div) and right == 0:
                zero.append(_T_MINUS_1.sub("[T-1]", node.expression.sql(dialect="duckdb")))
                return None
            if left is None or right is None:
                return None
            try:
                if isinstance(node, exp.Add):
                    return left + right
                if isinstance(node, exp.Sub):
                    return left - right
                if isinstance(node, exp.Mul):
                    return left * right
                return left / right
            except OverflowError:
                return math.inf
        raise _Undefined(node.sql())

    try:
        result = ev(formula.tree)
    except _Undefined:
        return None, zero
    return result, zero


def _offset(node: exp.Bracket) -> int:
    text = node.expressions[0].sql(dialect="duckdb").replace(" ", "")
    return 0 if text == "T" else -1


# --- reading the warehouse --------------------------------------------------------------------------------------
def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    return {f"{s}.{t}" for s, t in rows}


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def _records(conn: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    frame = conn.execute(sql, params).df()
    return [{k: _opt(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _rows(conn, tables: set[str], table, where: str, params: list, columns: str = "*") -> list[dict]:
    """Rows of a declared table (none when the warehouse does not have it yet); `where` is constant SQL text."""
    if table.qualified not in tables:
        return []
    return _records(conn, f"SELECT {columns} FROM {table.qualified} WHERE {where}", params)


def _finding(row: Mapping) -> Finding:
    return Finding(
        rule=row["rule"],
        severity=row["severity"],
        kpi_id=row.get("kpi_id"),
        item=row.get("item"),
        year=None if row.get("year") is None else int(row["year"]),
        value=None if row.get("value") is None else float(row["value"]),
        message=row.get("message") or "",
        is_justified=None if row.get("is_justified") is None else bool(row["is_justified"]),
        justification=row.get("justification"),
    )


def _not_participating(conn, tables: set[str], cycle_id: str, member: str, kpi_id: str) -> TraceError:
    """Why a member has no value at all: versions on record but none in use, rejected files, or nothing received."""
    head = f"no value of {kpi_id} for member {member} in cycle {cycle_id}: {member}"
    versions = _rows(
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
    rejected = _rows(
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
    tables = _tables(conn)
    if PROVENANCE.qualified not in tables:
        raise TraceError(f"no lineage in the warehouse yet: run the cycle first (pmm run --cycle {cycle_id})")
    participation = _records(
        conn,
        f"SELECT * FROM {PARTICIPATION.qualified} WHERE cycle = ? AND member_code = ?",
        [cycle_id, member_code],
    )
    if not participation or not participation[0].get("is_participating") or not participation[0]["submission_id"]:
        raise _not_participating(conn, tables, cycle_id, member_code, kpi.id)
    member = participation[0]
    submission_id = member["submission_id"]
    summary = _records(
        conn,
        f"SELECT * FROM {MEMBER_SUMMARY.qualified} WHERE cycle = ? AND member_code = ?",
        [cycle_id, member_code],
    )
    admitted = bool(summary and summary[0].get("is_admitted"))
    values = {
        v["series"]: v
        for v in _records(
            conn,
            f"SELECT * FROM {KPI_VALUES.qualified} WHERE cycle = ? AND member_code = ? AND kpi_id = ?",
            [cycle_id, member_code, kpi.id],
        )
    }
    if admitted and not values:
        raise TraceError(f"no value of {kpi.id} for member {member_code} in cycle {cycle_id}")
    provenance = _records(
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
        else next(iter(_records(conn, f"SELECT * FROM {PROVENANCE.qualified} WHERE cycle = ? LIMIT 1", [cycle_id])), {})
    )
    answers = {
        (a["item"], int(a["year"])): a
        for a in _records(
            conn,
            f"SELECT * FROM {STAGED_ANSWERS.qualified} WHERE cycle = ? AND member_code = ? AND submission_id = ?",
            [cycle_id, member_code, submission_id],
        )
    }
    findings = (
        _records(
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
    blocking = [_finding(f) for f in findings if f["severity"] == "blocking"]
    gate = Gate(
        is_admitted=admitted,
        rules_run=summary[0].get("rules_run") if summary else None,
        blocking_failed=len(blocking),
        warnings=sum(1 for f in findings if f["severity"] == "warning"),
        blocking_findings=blocking,
    )
    publication = _Publication(conn, tables, cycle_id, member_code, kpi, data_dir)
    submission = _submission(conn, tables, cycle_id, submission_id)
    # The answers as written are read back only from an archived copy that still hashes to the submission.
    archived = (
        ArchivedFile(Path(submission.archive_path), submission.format, submission.submission_id)
        if submission.archive_intact
        else None
    )
    series = [
        _series(
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
    rows = _records(
        conn, f"SELECT * FROM {SUBMISSIONS.qualified} WHERE cycle = ? AND submission_id = ?", [cycle_id, submission_id]
    )
    row = rows[0] if rows else {}
    account = {c: row.get(c) for c in ACCOUNT_COLUMNS}
    missing = [c for c in ACCOUNT_COLUMNS if account[c] is None]
    if missing and RECEIVED_FILES.qualified in tables:
        present = [c for c in missing if c in _columns(conn, RECEIVED_FILES.schema, RECEIVED_FILES.name)]
        if present:
            found = conn.execute(
                f"SELECT {', '.join(present)} FROM {RECEIVED_FILES.qualified} WHERE cycle = ? AND sha256 = ?"
                " ORDER BY received_at LIMIT 1",
                [cycle_id, submission_id],
            ).fetchall()
            if found:
                account |= {c: _opt(v) for c, v in zip(present, found[0], strict=True)}
    path = row.get("archive_path")
    return Submission(
        archive_intact=archive_intact(Path(path), submission_id) if path else None,
        submission_id=submission_id,
        version=row.get("version"),
        file_name=row.get("file_name"),
        format=row.get("format"),
        submitted_at=_time(row.get("submitted_at")),
        received_at=_time(row.get("received_at")),
        archive_path=row.get("archive_path"),
        archive_state=row.get("archive_state"),
        sent_by=row.get("sent_by"),
        channel=None if account["channel"] is None else str(account["channel"]),
        account=None if account["account"] is None else str(account["account"]),
    )


def _input(
    ref: ItemRef,
    reporting_year: int,
    answer: Mapping | None,
    version,
    findings: list[dict],
    archived: ArchivedFile | None,
) -> Input:
    year = reporting_year + ref.offset
    mine = [_finding(f) for f in findings if f.get("item") == ref.item and f.get("year") == year]
    if answer is None:
        return Input(
            ref=str(ref),
            item=ref.item,
            year=year,
            year_ref="T" if ref.offset == 0 else f"T{ref.offset}",
            status="missing",
            value=None,
            value_exact=None,
            level=None,
            comment=None,
            place=None,
            as_written=None,
            submission_id=None,
            submission_version=None,
            findings=mine,
        )
    value = answer.get("value")
    place = (
        Place(
            file=answer["source_file"],
            pointer=answer.get("source_pointer"),
            sheet=answer.get("source_sheet"),
            cell=answer.get("source_cell"),
            line=answer.get("source_line"),
        )
        if answer.get("source_file")
        else None
    )
    return Input(
        ref=str(ref),
        item=ref.item,
        year=year,
        year_ref="T" if ref.offset == 0 else f"T{ref.offset}",
        status=answer["status"],
        value=None if value is None else float(value),
        value_exact=exact_decimal(value),
        as_written=(
            archived.text_at(place.pointer, place.sheet, place.cell, place.line)
            if archived is not None and place is not None and answer["status"] == "reported"
            else None
        ),
        level=answer.get("value_text"),
        comment=answer.get("comment"),
        place=place,
        submission_id=answer.get("submission_id"),
        submission_version=answer.get("version", version),
        findings=mine,
    )


def explain(status: str, states: Sequence[tuple[str, str]], zero: Sequence[str]) -> tuple[str, str, list[str]]:
    """(kind, message, inputs) of a value without a number, from its inputs' (reference, status) in formula order
    and the denominators found zero; the words of both `pmm trace` and the provenance asset's summary."""
    if status == "not_applicable":
        refs = [ref for ref, state in states if state == "not_applicable"]
        return "input_not_applicable", f"the member declared {', '.join(refs)} not applicable", refs
    if status == "missing":
        refs = [(ref, state) for ref, state in states if state in ("missing", "not_available")]
        shown = "; ".join(f"{ref} is {'not answered' if state == 'missing' else state}" for ref, state in refs)
        return "input_not_reported", f"no number to compute: {shown}", [ref for ref, _ in refs]
    if zero:
        named = set(_REFERENCE.findall(zero[0]))  # whole references: total[T] is not import_total[T]
        inputs = [ref for ref, _ in states if ref in named] or [ref for ref, _ in states]
        return "zero_denominator", f"the denominator {zero[0]} is 0 (never shown as 0 or infinity)", inputs
    return (
        "not_finite",
        "the formula's result on these inputs is not a finite number (beyond the range of a double)",
        [ref for ref, _ in states],
    )


def _reason(status: str, inputs: list[Input], zero: list[str], gate: Gate, member: str) -> Reason | None:
    if status == "reported":
        return None
    if status == "blocked":
        rules = ", ".join(dict.fromkeys(f.rule for f in gate.blocking_findings)) or "a blocking rule"
        return Reason(
            kind="member_blocked",
            message=f"the quality gate kept {member}'s submission out of the KPIs: {rules}"
            f" ({len(gate.blocking_findings)} blocking finding(s)); the member must correct and send it again",
            inputs=sorted({f"{f.item}[{f.year}]" for f in gate.blocking_findings if f.item}),
            findings=gate.blocking_findings,
        )
    kind, message, refs = explain(status, [(i.ref, i.status) for i in inputs], zero)
    return Reason(kind=kind, message=message, inputs=refs, denominator=zero[0] if kind == "zero_denominator" else None)


def _series(
    kpi: KpiSpec,
    series_id: str,
    formula_text: str,
    formula: Formula,
    reporting_year: int,
    value_row: Mapping | None,
    answers: Mapping,
    findings: list[dict],
    version,
    gate: Gate,
    publication: "_Publication",
    member: Mapping,
    archived: ArchivedFile | None,
) -> Series:
    inputs = [
        _input(ref, reporting_year, answers.get((ref.item, reporting_year + ref.offset)), version, findings, archived)
        for ref in formula.refs
    ]
    numbers = {ItemRef(i.item, i.year - reporting_year): i.value for i in inputs if i.status == "reported"}
    recomputed, zero = evaluate(formula, numbers)
    status = value_row["status"] if value_row else "blocked"
    years = {(i.item, i.year) for i in inputs}
    concerned = [f for f in findings if (f.get("item"), f.get("year")) in years or f.get("kpi_id") == kpi.id]
    rules = []
    for rule in RULES:
        count = sum(1 for f in concerned if f["rule"] == rule.id)
        rules.append(
            RuleResult(
                rule=rule.id,
                severity=rule.severity.value,
                engine=rule.engine.value,
                result="finding" if count else "no_finding",
                findings=count,
            )
        )
    value = None if not value_row or value_row.get("value") is None else float(value_row["value"])
    return Series(
        series=series_id,
        formula=formula_text,
        status=status,
        value=value,
        recomputed_value=recomputed if recomputed is None or math.isfinite(recomputed) else None,
        numerator=(value_row or {}).get("numerator"),
        denominator=(value_row or {}).get("denominator"),
        level_code=(value_row or {}).get("level_code"),
        disclosure=(value_row or {}).get("disclosure"),
        flags=[f for f in str((value_row or {}).get("flags") or "").split(";") if f],
        reason=_reason(status, inputs, zero, gate, member["member_code"]),
        inputs=inputs,
        rules=rules,
        publication=publication.tiers(series_id, value_row),
        rollups=publication.rollups(series_id, value_row, member),
    )


# --- where the value went ---------------------------------------------------------------------------------------
class _Publication:
    """Per tier: the published row of a value, its files, why it is withheld; and the rollup rows it feeds."""

    def __init__(self, conn, tables: set[str], cycle_id: str, member: str, kpi: KpiSpec, data_dir: Path | None):
        self.cycle, self.member, self.kpi, self.data_dir = cycle_id, member, kpi, data_dir
        self.rows: dict[str, dict[str, dict]] = {}
        self.rollup_rows: dict[str, dict[tuple, dict]] = {}
        self.released: dict[str, bool] = {}
        for tier in TIERS:
            kpi_table, rollup_table, releases = published_tables(tier)
            mine = "cycle = ? AND member_code = ? AND kpi_id = ?"
            self.rows[tier] = {r["series"]: r for r in _rows(conn, tables, kpi_table, mine, [cycle_id, member, kpi.id])}
            self.rollup_rows[tier] = {
                (r["series"], r["group_type"], r["group_code"]): r
                for r in _rows(conn, tables, rollup_table, "cycle = ? AND kpi_id = ?", [cycle_id, kpi.id])
            }
            self.released[tier] = bool(_rows(conn, tables, releases, "cycle = ?", [cycle_id], "run_id"))
        # A member value withheld from a tier by disclosure control is a `value` row of group (member, code).
        self.withheld = _rows(
            conn,
            tables,
            WITHHELD,
            "cycle = ? AND kpi_id = ? AND statistic = ? AND group_type = 'member' AND group_code = ?",
            [cycle_id, kpi.id, VALUE, member],
            "tier, series, reason",
        )
        self.true_rollups = _rows(
            conn,
            tables,
            ROLLUPS,
            "cycle = ? AND kpi_id = ?",
            [cycle_id, kpi.id],
            "series, group_type, group_code, n_reporting, n_participating",
        )
        self._files: dict[Path, dict[str, tuple[int, object, object]] | None] = {}

    def _relative(self, tier: str, name: str) -> str:
        return f"published/{self.cycle}/{tier}/{name}"

    def _located(self, path: Path) -> dict[str, tuple[int, object, object]] | None:
        """This member's rows of the KPI in a published kpi_values file: series -> (CSV line, 1 = the header, or
        Parquet row index from 0; value; status). Read in one pass without keeping the file (a cycle at scale
        publishes millions of rows); None when the file cannot be read."""
        if path in self._files:
            return self._files[path]
        found: dict[str, tuple[int, object, object]] = {}
        try:
            if path.suffix == ".csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    reader = csv.reader(handle)
                    header = next(reader)
                    at = {name: header.index(name) for name in ("member_code", "kpi_id", "series", "value", "status")}
                    line = 2
                    for record in reader:
                        start, line = line, reader.line_num + 1  # a quoted field may span lines: its first
                        if record[at["member_code"]] == self.member and record[at["kpi_id"]] == self.kpi.id:
                            found[record[at["series"]]] = (start, record[at["value"]], record[at["status"]])
            else:
                frame = pd.read_parquet(path, columns=["member_code", "kpi_id", "series", "value", "status"])
                mine = frame[(frame["member_code"] == self.member) & (frame["kpi_id"] == self.kpi.id)]
                for index, row in zip(mine.index, mine.itertuples(index=False), strict=True):
                    found[row.series] = (int(index), _opt(row.value), row.status)
        except (OSError, ValueError, KeyError, IndexError, StopIteration, csv.Error):
            found = None
        self._files[path] = found
        return found

    def _files_for(self, tier: str, series: str, warehouse_row: Mapping) -> list[PublishedFile]:
        """The row in each kpi_values file of a release in place; a file unreadable or without the row is listed
        with `value_matches` false: a release on record must hold what the warehouse says."""
        if self.data_dir is None:
            return []
        found = []
        for name in ("kpi_values.csv", "kpi_values.parquet"):
            located = (self._located(self.data_dir / "published" / self.cycle / tier / name) or {}).get(series)
            if located is None:
                found.append(PublishedFile(path=self._relative(tier, name), row=None, value_matches=False))
                continue
            row, value, status = located
            matches = _same_value(value, warehouse_row.get("value")) and str(status) == str(warehouse_row.get("status"))
            found.append(PublishedFile(path=self._relative(tier, name), row=row, value_matches=matches))
        return found

    def tiers(self, series: str, value_row: Mapping | None) -> list[TierPublication]:
        key = {"cycle": self.cycle, "member_code": self.member, "kpi_id": self.kpi.id, "series": series}
        return [self._tier(tier, series, value_row, key) for tier in TIERS]

    def _tier(self, tier: str, series: str, value_row: Mapping | None, key: dict) -> TierPublication:
        def state(state, message, withheld_by=None, reason=None, files=()):
            return TierPublication(
                tier=tier,
                state=state,
                withheld_by=withheld_by,
                reason=reason,
                message=message,
                row_key=key,
                files=list(files),
            )

        if value_row is None:
            return state("not_computed", "no value: the member's submission was kept out by the quality gate")
        published = self.rows[tier].get(series)
        choice = value_row.get("disclosure")
        by_choice = tier != TIERS[-1] and not visible_in(choice, tier)
        control = next((w["reason"] for w in self.withheld if w["tier"] == tier and w["series"] == series), None)
        if published is not None:
            released = self.released[tier]
            message = f"in the {tier} tier's kpi_values" + ("" if released else " table; no release of it is in place")
            # What the tier must not show is said loudly: the disclosure audit should have refused it.
            if by_choice:
                message += f"; WARNING: the member chose `{choice}`, which {tier} readers may not see"
            elif control is not None:
                message += f"; WARNING: disclosure control withheld it from this tier ({control})"
            files = self._files_for(tier, series, published) if released else []
            return state("published" if released else "not_released", message, files=files)
        if by_choice:
            message = f"the member chose `{choice}` for {self.kpi.id}: not shown to {tier} readers"
            return state("withheld", message, "disclosure_choice", choice)
        if control is not None:
            message = f"withheld from the {tier} tier by disclosure control ({control}, disclosure.withheld)"
            return state("withheld", message, "disclosure_control", control)
        return state("not_released", f"not in the {tier} tier's tables: the tier has not been published for this cycle")

    def rollups(self, series: str, value_row: Mapping | None, member: Mapping) -> list[RollupFeed]:
        if value_row is None:  # a blocked member has no value: it is in no rollup, not even as coverage
            return []
        groups = [("global", "all")] + [(t, member.get(c)) for t, c in GROUP_COLUMNS.items()]
        categorical = self.kpi.shape == Shape.categorical
        reported = value_row.get("status") == "reported"
        feeds = []
        for row in self.true_rollups:
            row_series = row["series"]
            if categorical:
                kpi_series, level = split_level_series(str(row_series))
                if kpi_series != series:
                    continue
                counts_in = (
                    "coverage"
                    if not reported
                    else ("statistics" if level == value_row.get("level_code") else "level_share_base")
                )
            else:
                if row_series != series:
                    continue
                counts_in = "statistics" if reported else "coverage"
            if (row["group_type"], row["group_code"]) not in groups:
                continue
            feeds.append(
                RollupFeed(
                    series=str(row_series),
                    group_type=row["group_type"],
                    group_code=row["group_code"],
                    counts_in=counts_in,
                    n_reporting=row.get("n_reporting"),
                    n_participating=row.get("n_participating"),
                    tiers=[self._rollup_tier(t, (row_series, row["group_type"], row["group_code"])) for t in TIERS],
                )
            )
        order = {g: i for i, g in enumerate(g for g, _ in groups)}
        return sorted(feeds, key=lambda f: (order.get(f.group_type, 9), f.series))

    def _rollup_tier(self, tier: str, key: tuple) -> RollupTier:
        row = self.rollup_rows[tier].get(key) or {}
        reasons = {}
        for entry in str(row.get("suppression_reason") or "").split(";"):
            if ":" in entry:
                statistic, reason = entry.split(":", 1)
                reasons.setdefault(statistic, reason)
        statistics = [s for s in (*NUMERIC_STATISTICS,) if row.get(s) is not None]
        return RollupTier(
            tier=tier,
            released=self.released[tier] and bool(row),
            published=statistics,
            suppressed=reasons,
            file=self._relative(tier, "rollups.csv"),
        )


def _same_value(published: object, stored: object) -> bool:
    if not _given(published) or (isinstance(published, float) and math.isnan(published)):
        return stored is None
    return stored is not None and float(published) == float(stored)


# --- text ---------------------------------------------------------------------------------------------------
def _place(place: Place) -> str:
    parts = [f"file {printable(place.file)}"]
    if place.sheet:
        parts.append(f"sheet {printable(place.sheet)}, cell {printable(place.cell)}")
    if place.line is not None:
        parts.append(f"line {place.line}")
    if place.pointer:
        parts.append(f"JSON pointer {printable(place.pointer)}")
    return ", ".join(parts)


def _answer(item: Input) -> str:
    if item.status == "reported":
        shown = item.value_exact if item.level is None else f"{printable(item.level)} (score {item.value_exact})"
        if item.as_written is not None and item.as_written not in (item.value_exact, item.level, f'"{item.level}"'):
            shown += f", written {printable(item.as_written)}"
        return f"{shown} (reported)"
    return f"({item.status})"


def _finding_line(finding: Finding) -> str:
    where = f" on {finding.item}[{finding.year}]" if finding.item else ""
    return f"{finding.rule} ({finding.severity}){where}: {printable(finding.message)}"


def render_trace(trace: Trace) -> str:
    """The trace as text: per series the value or the reason, each input with its place, rules, publication."""
    lines = [
        f"{trace.kpi_id} ({trace.kpi_name}): member {trace.member_code}, cycle {trace.cycle},"
        f" reporting year T = {trace.reporting_year}"
    ]
    if trace.member_state == "blocked":
        lines.append(
            f"member blocked by the quality gate: {trace.gate.blocking_failed} blocking finding(s), no KPI value"
        )
        lines += [f"  {_finding_line(f)}" for f in trace.gate.blocking_findings]
    for series in trace.series:
        value = repr(series.value) if series.status == "reported" else "none"
        lines += [f"series {series.series}: value {value}, status {series.status}", f"  formula: {series.formula}"]
        if series.reason is not None and series.reason.kind != "member_blocked":
            lines.append(f"  why: {series.reason.message}")
        if series.recomputed_value is not None and series.value is not None and series.recomputed_value != series.value:
            lines.append(f"  WARNING: the formula on the inputs below gives {series.recomputed_value!r}")
        lines.append("  answers used:")
        for item in series.inputs:
            lines.append(f"    {item.item}[{item.year_ref}] = year {item.year}: {_answer(item)}")
            lines.append(f"      from {_place(item.place)}" if item.place else "      not answered in the submission")
            if item.comment:
                lines.append(f"      comment: {printable(item.comment)}")
            if item.findings:
                flagged = list(dict.fromkeys(f.rule for f in item.findings))
                passed = len(RULES) - len(flagged)
                lines.append(f"      quality: flagged by {', '.join(flagged)}; passed the other {passed} rules")
                lines += [f"        {_finding_line(f)}" for f in item.findings]
            else:
                lines.append(f"      quality: passed all {len(RULES)} rules")
        on_kpi = [r.rule for r in series.rules if r.result == "finding"]
        if on_kpi:
            lines.append(f"  rules with findings on these inputs or this KPI: {', '.join(on_kpi)}")
        lines.append("  published:")
        for tier in series.publication:
            where = "; ".join(f"{f.path} {'line' if f.path.endswith('.csv') else 'row'} {f.row}" for f in tier.files)
            lines.append(f"    {tier.tier}: {tier.state}: {printable(tier.message)}" + (f" ({where})" if where else ""))
            lines += [
                f"      WARNING: {f.path} does not show the warehouse's value"
                for f in tier.files
                if f.value_matches is False
            ]
        if series.rollups:
            lines.append("  feeds the group statistics:")
            for feed in series.rollups:
                lines.append(
                    f"    {feed.group_type} {feed.group_code} [{feed.series}], counts in {feed.counts_in},"
                    f" n_reporting {feed.n_reporting} of {feed.n_participating}: {_rollup_tiers(feed)}"
                )
        elif series.status == "blocked":
            lines.append("  feeds no group statistic: a blocked member has no value")
    sub = trace.submission
    lines += [
        f"submission: version {sub.version} submitted {_shown_time(sub.submitted_at)}, sha256 {sub.submission_id}",
        f"  file {printable(sub.file_name)} ({sub.format}), received {_shown_time(sub.received_at)}"
        + _channel(sub)
        + (f", sent by {printable(sub.sent_by)}" if sub.sent_by else ""),
        f"  archived copy: {printable(sub.archive_path)}"
        + (f" ({sub.archive_state})" if sub.archive_state else "")
        + ("" if sub.archive_intact else ", WARNING: it no longer hashes to the submission's SHA-256"),
        *_audit_lines(trace),
        f"quality rules checked: {', '.join(r.rule for r in trace.rules_checked)}",
        f"run {trace.run.run_id}, code version {trace.run.code_version},"
        f" catalogue version {trace.run.catalogue_version} (digest {trace.run.catalogue_digest})",
    ]
    return "\n".join(lines)


def _audit_lines(trace) -> list[str]:
    """The platform's audit trail for the file, one line per entry (member text printed inert)."""
    if not trace.platform_audit:
        return []
    lines = ["  member platform's audit trail for this file:"]
    for entry in trace.platform_audit:
        detail = ", ".join(f"{k} {printable(str(v))}" for k, v in sorted(entry.detail.items()) if v not in (None, ""))
        lines.append(
            f"    {_shown_time(entry.at)} {entry.what} by {printable(entry.login or '?')}"
            f" from {printable(entry.ip or '?')}" + (f": {detail}" if detail else "")
        )
    return lines


def _channel(sub: Submission) -> str:
    """Where the platform received the file and which account sent it, when the raw record says (channel, account)."""
    where = {"platform": " through the member platform", "landing": " copied into the landing folder"}
    text = where.get(sub.channel or "", f" through {printable(sub.channel)}" if sub.channel else "")
    return text + (f", account {printable(sub.account)}" if sub.account else "")


def _rollup_tiers(feed: RollupFeed) -> str:
    """What each tier shows of a rollup row; tiers that show the same are named together."""
    shown: dict[str, list[str]] = {}
    for tier in feed.tiers:
        text = ", ".join(tier.published) or "nothing"
        if tier.suppressed:
            text += " (suppressed " + ", ".join(f"{s}: {r}" for s, r in tier.suppressed.items()) + ")"
        if not tier.released:
            text += " (not released)"
        shown.setdefault(text, []).append(tier.tier)
    return "; ".join(f"{', '.join(tiers)}: {text}" for text, tiers in shown.items())


def _shown_time(iso: str | None) -> str:
    """An ISO time as the trace has always printed it (`2024-02-01 09:00:00+00:00`)."""
    return "unknown" if iso is None else iso.replace("T", " ")
