"""The KPI benchmark's warehouse: the cycle it is seeded for, the KPI stage's inputs seeded and scaled, and the
tables each way of computing the stage writes (benchmarks/kpi_rollups.py compares them).

The inputs are what the KPI stage reads (quality.admitted_answers, quality.member_summary, quality.findings,
staging.participation, staging.disclosure), seeded from sample submissions of every member in force: some
members do not take part, some are blocked by a (synthetic) blocking finding, some answers carry warnings,
and a few denominators are zero. A larger table repeats every member under `copies` member codes (e.g.
sub-national units reporting as members) in the same groups.
"""

import random
from dataclasses import replace
from typing import Any

import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.staging.select import membership_frame
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    DISCLOSURE,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PARTICIPATION,
    ROLLUPS,
    Table,
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows_of_tables

CYCLE = "2025"  # 186 members in force, catalogue 1.1 (every KPI of the shipped catalogue)
INPUT_TABLES = (PARTICIPATION, DISCLOSURE, MEMBER_SUMMARY, FINDINGS, ADMITTED_ANSWERS)
WARNING_RULES = (
    "required_items_present",
    "t_minus_1_matches_earlier_cycle",
    "value_near_peer_median",
    "yoy_change_within_band",
    "magnitude_consistent_with_history",
)


def seed_inputs(
    conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue, answers: pd.DataFrame
) -> dict[str, int]:
    """Write the KPI stage's input tables for CYCLE from staged answers (staging.answers columns) of members.

    Deterministic: every 15th member in force sends nothing, every 20th participant is blocked, about 4 % of
    reported answers draw a warning (some two, some the same rule twice), every 31st participant has a zero
    denominator, and disclosure choices are drawn per member. Returns the row counts written.
    """
    cycle = reference.cycles.get(CYCLE)
    members = membership_frame(reference, cycle)
    absent = set(members["member_code"].iloc[3::15])
    answers = answers[~answers["member_code"].isin(absent)].copy()
    submissions = answers.groupby("member_code")["submission_id"].first()
    participation = members.assign(
        cycle=CYCLE,
        is_participating=members["member_code"].isin(submissions.index),
        submission_id=members["member_code"].map(submissions),
        version=1,
        submitted_at=pd.Timestamp("2026-02-01T10:00:00Z"),
    )
    participation.loc[~participation["is_participating"], "version"] = None
    participation.loc[~participation["is_participating"], "submitted_at"] = None
    participants = sorted(submissions.index)

    year = cycle.reporting_year
    for member in participants[5::31]:  # zero denominators: the KPI is undefined, never 0 or infinity
        for item, item_year in (
            ("declarations_total", year),
            ("declarations_electronic", year),
            ("declarations_physical_inspection", year),
            ("aeo_count", year - 1),
        ):
            at = (answers["member_code"] == member) & (answers["item"] == item) & (answers["year"] == item_year)
            answers.loc[at, ["value", "status"]] = [0.0, "reported"]

    blocked = set(participants[7::20])
    rng = random.Random("pmm-bench-findings")
    findings = []
    for row in answers[answers["status"] == "reported"].itertuples(index=False):
        draw = rng.random()
        if row.member_code in blocked and draw < 0.05:
            findings.append(_finding(row, "values_within_range", "blocking"))
        elif draw < 0.04:
            rules = rng.sample(WARNING_RULES, 2 if draw < 0.01 else 1)
            if draw < 0.005:  # the same rule found twice on one answer (e.g. for two KPIs reading it)
                rules.append(rules[0])
            findings += [_finding(row, rule, "warning") for rule in rules]
    for member in sorted(blocked):  # every blocked member has at least one blocking finding
        row = next(answers[answers["member_code"] == member].itertuples(index=False))
        findings.append(_finding(row, "part_not_above_whole", "blocking"))
    findings = pd.DataFrame(findings, columns=FINDINGS.column_names).drop_duplicates()

    counted = findings.groupby(["member_code", "severity"]).size().unstack(fill_value=0)
    summary = pd.DataFrame({"member_code": participants}).assign(
        cycle=CYCLE,
        submission_id=lambda f: f["member_code"].map(submissions),
        rules_run=11,
        blocking_failed=lambda f: f["member_code"].map(counted.get("blocking", {})).fillna(0).astype(int),
        warnings=lambda f: f["member_code"].map(counted.get("warning", {})).fillna(0).astype(int),
        justified=0,
        is_admitted=lambda f: ~f["member_code"].isin(blocked),
    )
    admitted = answers[~answers["member_code"].isin(blocked)]

    kpi_ids = sorted(k.id for k in catalogue.kpis_for_version(cycle.catalogue_version))
    choices = []
    for member in participants:
        rng_member = random.Random(f"pmm-bench-disclosure:{member}")
        choices += [(CYCLE, member, k, rng_member.choice(("public", "public", "wco", "secretariat"))) for k in kpi_ids]
    disclosure = pd.DataFrame(choices, columns=DISCLOSURE.column_names)

    rows = {
        PARTICIPATION: participation,
        DISCLOSURE: disclosure,
        MEMBER_SUMMARY: summary,
        FINDINGS: findings,
        ADMITTED_ANSWERS: admitted,
    }
    replace_cycle_rows_of_tables(conn, CYCLE, list(rows.items()))
    return {t.qualified: len(frame) for t, frame in rows.items()}


def _finding(answer: Any, rule: str, severity: str) -> dict[str, Any]:
    return {
        "cycle": CYCLE,
        "member_code": answer.member_code,
        "submission_id": answer.submission_id,
        "rule": rule,
        "severity": severity,
        "kpi_id": None,
        "item": answer.item,
        "year": answer.year,
        "value": answer.value,
        "message": f"{rule} (seeded by the benchmark)",
        "is_justified": False,
        "justification": None,
        "source_file": answer.source_file,
        "source_pointer": answer.source_pointer,
        "source_sheet": None,
        "source_cell": None,
        "source_line": None,
    }


def scale_inputs(conn: duckdb.DuckDBPyConnection, copies: int) -> dict[str, int]:
    """Replace every input table's CYCLE rows by `copies` copies, member codes suffixed `~0000`, `~0001`, ...

    The copies keep their member's groups, answers, findings and disclosure: a table `copies` times larger
    with the same shape (think sub-national units reporting as members). Returns the row counts.
    """
    counts = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for table in INPUT_TABLES:
            conn.execute(f"CREATE TEMP TABLE one_copy AS SELECT * FROM {table.qualified} WHERE cycle = ?", [CYCLE])
            conn.execute(f"DELETE FROM {table.qualified} WHERE cycle = ?", [CYCLE])
            conn.execute(
                f"""
                INSERT INTO {table.qualified} BY NAME
                SELECT one_copy.* REPLACE (member_code || '~' || lpad(copy::VARCHAR, 4, '0') AS member_code)
                FROM one_copy CROSS JOIN range($copies) AS copies(copy)
                ORDER BY one_copy.member_code, copy
                """,
                {"copies": copies},
            )
            conn.execute("DROP TABLE one_copy")
            counts[table.qualified] = conn.execute(
                f"SELECT count(*) FROM {table.qualified} WHERE cycle = ?", [CYCLE]
            ).fetchall()[0][0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("CHECKPOINT")
    return counts


def result_tables(implementation: str) -> tuple[Table, Table]:
    """Where an implementation writes its kpi_values and rollups (same columns as the pipeline's tables)."""
    if implementation == "pipeline":
        return KPI_VALUES, ROLLUPS
    schema = f"bench_{'sql' if implementation == 'duckdb' else implementation}"
    return replace(KPI_VALUES, schema=schema), replace(ROLLUPS, schema=schema)
