"""The quality gate of a cycle (write–audit–publish): the staged answers are checked against every rule, and
only the members without a blocking finding are admitted to quality.admitted_answers, which the KPIs read.

`load_gate_inputs` reads the warehouse, `evaluate_quality` judges plain frames (Great Expectations for the
per-answer rules, a private DuckDB for the rules across submissions, cycles and members) and
`write_gate_outcome` writes findings, member summary and admitted answers of the cycle in one transaction.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.models import Cycle, CyclesConfig
from pmm_pipeline.stages.quality.cross import CANDIDATE_COLUMNS, HISTORY_COLUMNS, run_cross_rules
from pmm_pipeline.stages.quality.expectations import (
    ExpectationsReport,
    run_expectations,
)
from pmm_pipeline.stages.quality.findings import (
    MessageContext,
    Violation,
    build_findings,
    duplicate_places,
    summarize_members,
)
from pmm_pipeline.stages.quality.frames import expected_answers, prepare_answers, required_answers
from pmm_pipeline.stages.quality.plan import ANSWERS_BATCH, EXPECTED_BATCH, plan_expectations
from pmm_pipeline.stages.quality.rules import RULES, Rule, Severity, severity_for
from pmm_pipeline.warehouse.reads import table_exists
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    FINDINGS,
    MEMBER_SUMMARY,
    PARTICIPATION,
    STAGED_ANSWERS,
    SUBMISSIONS,
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows_of_tables

SUBMISSION_COLUMNS = ["member_code", "submission_id", "file_name", "region_code"]


@dataclass(frozen=True)
class GateInputs:
    answers: pd.DataFrame  # the cycle's staged answers (staging.answers columns)
    submissions: pd.DataFrame  # one row per participating member: SUBMISSION_COLUMNS
    history: pd.DataFrame  # reported answers admitted in earlier cycles: HISTORY_COLUMNS


@dataclass(frozen=True)
class RuleRun:
    rule: Rule
    rows_checked: int
    members_checked: frozenset[str]


@dataclass(frozen=True)
class GateOutcome:
    findings: pd.DataFrame
    member_summary: pd.DataFrame
    admitted_answers: pd.DataFrame
    rule_runs: dict[str, RuleRun]
    docs_index: Path | None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def blocked_members(self) -> list[str]:
        summary = self.member_summary
        return sorted(summary.loc[~summary["is_admitted"], "member_code"])


def earlier_cycles(cycles: CyclesConfig, cycle: Cycle) -> list[str]:
    """Ids of the cycles reporting an earlier year, the latest first: the member's own history."""
    earlier = [c for c in cycles.cycles if c.reporting_year < cycle.reporting_year]
    return [c.id for c in sorted(earlier, key=lambda c: c.reporting_year, reverse=True)]


def empty_history() -> pd.DataFrame:
    dtypes = ("object", "int64", "object", "object", "int64", "float64")
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(HISTORY_COLUMNS, dtypes, strict=True)})


def load_gate_inputs(conn: duckdb.DuckDBPyConnection, cycle_id: str, earlier: list[str]) -> GateInputs:
    """The cycle's staged answers and participating members, and what earlier cycles admitted."""
    answers = conn.execute(
        f"SELECT {', '.join(STAGED_ANSWERS.column_names)} FROM {STAGED_ANSWERS.qualified} WHERE cycle = ?"
        " ORDER BY member_code, item, year",
        [cycle_id],
    ).df()
    submissions = conn.execute(
        f"""
        SELECT p.member_code, p.submission_id, s.file_name, p.region_code
        FROM {PARTICIPATION.qualified} AS p
        LEFT JOIN {SUBMISSIONS.qualified} AS s ON s.cycle = p.cycle AND s.submission_id = p.submission_id
        WHERE p.cycle = ? AND p.is_participating
        ORDER BY p.member_code
        """,
        [cycle_id],
    ).df()
    history = empty_history()
    if earlier and table_exists(conn, ADMITTED_ANSWERS):
        history = conn.execute(
            f"""
            SELECT cycle, list_position($earlier, cycle) AS cycle_rank, member_code, item, year, value
            FROM {ADMITTED_ANSWERS.qualified}
            WHERE list_contains($earlier, cycle) AND status = 'reported' AND value IS NOT NULL
            """,
            {"earlier": earlier},
        ).df()
    return GateInputs(answers=answers, submissions=submissions, history=history)


def _gx_violations(report: ExpectationsReport, batches: dict[str, pd.DataFrame]) -> list[Violation]:
    violations = []
    for outcome in report.outcomes:
        if not outcome.failing_row_ids:
            continue
        planned = outcome.planned
        frame = batches[planned.batch]
        failing = frame.iloc[list(outcome.failing_row_ids)]  # row_id is the position in its batch
        if planned.check == "duplicate_answer":
            failing = failing.assign(places=duplicate_places(failing))
        for row in failing.to_dict("records"):
            on_answer = planned.batch == ANSWERS_BATCH
            violations.append(
                Violation(
                    rule=planned.rule,
                    check=planned.check,
                    member_code=row["member_code"],
                    item=row["item"],
                    year=int(row["year"]),
                    kpi_id=None if on_answer else row["kpi_id"],
                    details=row,
                    answer=row if on_answer else None,
                )
            )
    return violations


def evaluate_quality(
    inputs: GateInputs,
    cycle: Cycle,
    catalogue: Catalogue,
    docs_dir: Path | None = None,
    run_name: str = "run",
    *,
    fast: bool = False,
    skip_cross: frozenset[str] = frozenset(),
) -> GateOutcome:
    """Judge the cycle's staged answers against every rule; returns what the gate writes.

    `fast`: the per-answer expectations proven equal in pandas are judged without Great Expectations (one
    member's file; see expectations.run_expectations). The pipeline's gate leaves it off. `skip_cross`: cross
    rules not run (see run_cross_rules), their findings and runs absent.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    items = catalogue.items_for_version(cycle.catalogue_version)
    members = inputs.submissions["member_code"].tolist()
    batches = {
        ANSWERS_BATCH: prepare_answers(inputs.answers, items, inputs.submissions),
        EXPECTED_BATCH: expected_answers(inputs.answers, members, required_answers(kpis, catalogue.formulas, cycle)),
    }
    seconds["prepare"] = time.perf_counter() - started

    started = time.perf_counter()
    report = run_expectations(
        plan_expectations(cycle, items), batches, f"cycle_{cycle.id}", docs_dir, run_name, fast=fast
    )
    violations = _gx_violations(report, batches)
    seconds["great_expectations"] = time.perf_counter() - started

    started = time.perf_counter()
    kpis_by_id = {k.id: k for k in kpis}
    blocked_answers = {
        (v.member_code, v.item, v.year)
        for v in violations
        if v.answer is not None and severity_for(v.rule, kpis_by_id.get(v.kpi_id)) == Severity.blocking
    }
    numeric_items = [code for code, item in catalogue.items.items() if not item.is_categorical]
    answers = batches[ANSWERS_BATCH]
    candidates = answers[
        answers["status"].eq("reported") & answers["value"].notna() & answers["item"].isin(numeric_items)
    ][CANDIDATE_COLUMNS]
    if blocked_answers:
        keys = pd.MultiIndex.from_frame(candidates[["member_code", "item", "year"]])
        candidates = candidates[~keys.isin(list(blocked_answers))]
    candidates = candidates.drop_duplicates(["member_code", "item", "year"])
    history = inputs.history[inputs.history["item"].isin(numeric_items)]
    compared = run_cross_rules(
        cycle,
        kpis,
        catalogue.formulas,
        candidates,
        history,
        inputs.submissions[["member_code", "region_code"]],
        skip_cross,
    )
    for rule_id, rows in compared.items():
        for row in rows[rows["is_violation"]].to_dict("records"):
            violations.append(
                Violation(
                    rule=rule_id,
                    check=rule_id,
                    member_code=row["member_code"],
                    item=row["item"],
                    year=int(row["year"]),
                    kpi_id=row.get("kpi_id"),
                    details=row,
                )
            )
    seconds["cross_rules"] = time.perf_counter() - started

    started = time.perf_counter()
    context = MessageContext(cycle=cycle, items=catalogue.items, kpis=kpis_by_id)
    findings = build_findings(violations, inputs.answers, inputs.submissions, context)
    rule_runs = _rule_runs(report, batches, compared)
    summary = summarize_members(
        findings, inputs.submissions, {r: run.members_checked for r, run in rule_runs.items()}, cycle.id
    )
    admitted_members = summary.loc[summary["is_admitted"], "member_code"]
    admitted = inputs.answers[inputs.answers["member_code"].isin(admitted_members)]
    seconds["findings"] = time.perf_counter() - started
    return GateOutcome(findings, summary, admitted, rule_runs, report.docs_index, seconds)


def _rule_runs(
    report: ExpectationsReport, batches: dict[str, pd.DataFrame], compared: dict[str, pd.DataFrame]
) -> dict[str, RuleRun]:
    """Per rule: how many rows (or comparisons) it checked and whose submissions they were."""
    runs = {}
    for rule in RULES:
        outcomes = [o for o in report.outcomes if o.planned.rule == rule.id]
        if outcomes:
            batch = batches[outcomes[0].planned.batch]
            if outcomes[0].planned.batch == EXPECTED_BATCH:
                batch = batch[batch["rule"] == rule.id]
            rows, members = sum(o.rows_checked for o in outcomes), frozenset(batch["member_code"])
        elif rule.id in compared:
            rows, members = len(compared[rule.id]), frozenset(compared[rule.id]["member_code"])
        else:
            rows, members = 0, frozenset()
        runs[rule.id] = RuleRun(rule, rows, members)
    return runs


def write_gate_outcome(conn: duckdb.DuckDBPyConnection, cycle_id: str, outcome: GateOutcome) -> None:
    """Findings, member summary and admitted answers of the cycle, replaced together (one transaction)."""
    replace_cycle_rows_of_tables(
        conn,
        cycle_id,
        [
            (FINDINGS, outcome.findings),
            (MEMBER_SUMMARY, outcome.member_summary),
            (ADMITTED_ANSWERS, outcome.admitted_answers),
        ],
    )


def members_wrongly_admitted(conn: duckdb.DuckDBPyConnection, cycle_id: str) -> dict[str, list[str]]:
    """Per rule, members admitted despite a blocking finding: the gate's own invariant, checked after writing."""
    rows = conn.execute(
        f"""
        SELECT f.rule, list(DISTINCT f.member_code ORDER BY f.member_code)
        FROM {FINDINGS.qualified} AS f
        WHERE f.cycle = $cycle AND f.severity = 'blocking'
            AND f.member_code IN (SELECT member_code FROM {ADMITTED_ANSWERS.qualified} WHERE cycle = $cycle)
        GROUP BY f.rule
        """,
        {"cycle": cycle_id},
    ).fetchall()
    return {rule: members for rule, members in rows}
