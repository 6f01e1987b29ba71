"""The traces of a whole cycle in brief, for the provenance asset's metadata in the Dagster UI.

A trace per value would be thousands of entries per run (186 members x some 25 series), past what one
event of the log should carry, so the UI gets what `pmm trace` says in aggregate and bounded: values per
status, per KPI series the statuses and what each tier shows or withholds and why, every value without a
number with the reason (which input, which state, which denominator: the same words as the trace, from
`reasons.explain`), and each blocked member with its blocking findings. The whole trace of one value
stays one command away (`pmm trace ... --json`).
"""

from dataclasses import dataclass
from functools import lru_cache

import duckdb
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS, VALUE_STATUSES
from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef, parse_formula
from pmm_pipeline.stages.disclosure.facts import VALUE, visible_in
from pmm_pipeline.stages.lineage.reasons import explain
from pmm_pipeline.stages.lineage.recompute import evaluate
from pmm_pipeline.warehouse.tables import FINDINGS, KPI_VALUES, MEMBER_SUMMARY, PROVENANCE, WITHHELD

BLOCKED = "blocked"
LISTED = 500  # values without a number (and blocking findings) listed: as many as one JSON entry of the UI keeps


@dataclass(frozen=True)
class CycleTraceSummary:
    by_status: dict[str, int]  # values per status; `blocked`: series of blocked members (no value computed)
    by_series: pd.DataFrame  # kpi_id, series, one column per status, per tier: shown / by_choice / by_control
    without_number: pd.DataFrame  # member_code, kpi_id, series, status, reason: the first LISTED values not reported
    n_without_number: int  # all values not reported
    blocked_members: pd.DataFrame  # member_code, rule, item, year, message: the first LISTED blocking findings


@lru_cache(maxsize=512)
def _formula(text: str) -> Formula:
    return parse_formula(text)


def reason_for(status: str, formula_text: str, answers: list[tuple[str, int, str, float | None]]) -> str:
    """Why a value has no number, from its answers (item, year offset, status, value), in `pmm trace`'s words."""
    formula = _formula(formula_text)
    found = {ItemRef(item, offset): (state, value) for item, offset, state, value in answers}
    states = [(str(ref), found.get(ref, ("missing", None))[0]) for ref in formula.refs]
    numbers = {ref: value for ref, (state, value) in found.items() if state == "reported"}
    zero = evaluate(formula, numbers)[1] if status == "undefined" else []
    return explain(status, states, zero)[1]


def _shown_in(disclosure: object, tier: str) -> bool:
    # As tier_kpi_values: the secretariat tier sees every choice, even one it does not know.
    return tier == TIERS[-1] or visible_in(disclosure, tier)


def summarize_cycle(
    conn: duckdb.DuckDBPyConnection, cycle_id: str, series_per_kpi: dict[str, list[str]]
) -> CycleTraceSummary:
    """The cycle's traces in brief; `series_per_kpi`: the cycle's KPIs and their series (for blocked members).

    Counting is done by the warehouse, grouped (a cycle at scale has millions of values); reasons are worked
    out for the first LISTED values without a number only, as many as the UI shows.
    """
    counts = conn.execute(
        f"SELECT kpi_id, series, status, disclosure, count(*) AS n FROM {KPI_VALUES.qualified}"
        " WHERE cycle = ? GROUP BY ALL",
        [cycle_id],
    ).fetchall()
    # A value withheld by disclosure control from a tier its member's choice allows (else the choice hides it).
    controlled = conn.execute(
        f"SELECT w.tier, w.kpi_id, w.series, v.disclosure, count(*) FROM {WITHHELD.qualified} AS w"
        f" JOIN {KPI_VALUES.qualified} AS v ON v.cycle = w.cycle AND v.member_code = w.group_code"
        " AND v.kpi_id = w.kpi_id AND v.series = w.series"
        " WHERE w.cycle = ? AND w.statistic = ? AND w.group_type = 'member' GROUP BY ALL",
        [cycle_id, VALUE],
    ).fetchall()
    blocked = conn.execute(
        f"SELECT count(*) FROM {MEMBER_SUMMARY.qualified} WHERE cycle = ? AND NOT is_admitted", [cycle_id]
    ).fetchall()[0][0]

    by_status = dict.fromkeys(VALUE_STATUSES, 0)
    table: dict[tuple[str, str], dict[str, object]] = {}
    for kpi_id, all_series in series_per_kpi.items():
        for series in all_series:
            row: dict[str, object] = {"kpi_id": kpi_id, "series": series, **dict.fromkeys(VALUE_STATUSES, 0)}
            row[BLOCKED] = blocked
            for tier in TIERS:
                row |= {f"{tier}_shown": 0, f"{tier}_by_choice": 0, f"{tier}_by_control": 0}
            table[(kpi_id, series)] = row
    for kpi_id, series, status, disclosure, n in counts:
        by_status[status] = by_status.get(status, 0) + n
        row = table.setdefault((kpi_id, series), {"kpi_id": kpi_id, "series": series})
        row[status] = int(row.get(status, 0)) + n
        for tier in TIERS:
            key = f"{tier}_shown" if _shown_in(disclosure, tier) else f"{tier}_by_choice"
            row[key] = int(row.get(key, 0)) + n
    for tier, kpi_id, series, disclosure, n in controlled:
        row = table.get((kpi_id, series))
        if row is not None and _shown_in(disclosure, tier):
            row[f"{tier}_shown"] = int(row.get(f"{tier}_shown", 0)) - n
            row[f"{tier}_by_control"] = int(row.get(f"{tier}_by_control", 0)) + n
    by_status[BLOCKED] = blocked * sum(len(s) for s in series_per_kpi.values())
    by_series = pd.DataFrame(list(table.values())).fillna(0)

    lineage = conn.execute(
        f"""
        WITH listed AS (
            SELECT DISTINCT kpi_id, series, member_code FROM {PROVENANCE.qualified}
            WHERE cycle = $cycle AND kpi_status <> 'reported'
            ORDER BY kpi_id, series, member_code LIMIT $listed
        )
        SELECT p.member_code, p.kpi_id, p.series, p.kpi_status, p.formula, p.item,
            p.year - p.reporting_year AS year_offset, p.answer_status, p.answer_value
        FROM {PROVENANCE.qualified} AS p JOIN listed USING (kpi_id, series, member_code)
        WHERE p.cycle = $cycle
        ORDER BY p.kpi_id, p.series, p.member_code, p.item, p.year
        """,
        {"cycle": cycle_id, "listed": LISTED},
    ).df()
    reasons = []
    for (kpi_id, series, member), answers in lineage.groupby(["kpi_id", "series", "member_code"], sort=True):
        first = answers.iloc[0]
        # Columns zipped, not itertuples(): that builds a namedtuple class per call, 500 of them (1 s of a run).
        columns = answers["item"], answers["year_offset"], answers["answer_status"], answers["answer_value"]
        inputs = [
            (item, int(offset), state, None if pd.isna(value) else float(value))
            for item, offset, state, value in zip(*columns, strict=True)
        ]
        reasons.append(
            {
                "member_code": member,
                "kpi_id": kpi_id,
                "series": series,
                "status": first.kpi_status,
                "reason": reason_for(first.kpi_status, first.formula, inputs),
            }
        )
    without_number = pd.DataFrame(reasons, columns=["member_code", "kpi_id", "series", "status", "reason"])
    blocking = conn.execute(
        f"SELECT member_code, rule, item, year, message FROM {FINDINGS.qualified}"
        " WHERE cycle = ? AND severity = 'blocking' ORDER BY member_code, rule, item, year LIMIT ?",
        [cycle_id, LISTED],
    ).df()
    n_without = sum(n for _, _, status, _, n in counts if status != "reported")
    return CycleTraceSummary(by_status, by_series, without_number, n_without, blocking)
