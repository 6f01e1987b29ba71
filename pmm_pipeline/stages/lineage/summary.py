"""The traces of a whole cycle in brief, for the provenance asset's metadata in the Dagster UI.

A trace per value would be thousands of entries per run (186 members x some 25 series), past what one
event of the log should carry, so the UI gets what `pmm trace` says in aggregate and bounded: values per
status, per KPI series the statuses and what each tier shows or withholds and why, every value without a
number with the reason (which input, which state, which denominator: the same words as the trace, from
`trace.explain`), and each blocked member with its blocking findings. The whole trace of one value
stays one command away (`pmm trace ... --json`).
"""

from dataclasses import dataclass
from functools import lru_cache

import duckdb
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS, VALUE_STATUSES
from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef, parse_formula
from pmm_pipeline.stages.disclosure.facts import VALUE, visible_in
from pmm_pipeline.stages.lineage.trace import evaluate, explain
from pmm_pipeline.warehouse.tables import FINDINGS, KPI_VALUES, MEMBER_SUMMARY, PROVENANCE, WITHHELD

BLOCKED = "blocked"
STATUSES = (*VALUE_STATUSES, BLOCKED)


@dataclass(frozen=True)
class CycleTraceSummary:
    by_status: dict[str, int]  # values per status; `blocked`: series of blocked members (no value computed)
    by_series: pd.DataFrame  # kpi_id, series, one column per status, per tier: shown / by_choice / by_control
    without_number: pd.DataFrame  # member_code, kpi_id, series, status, reason (every value not reported)
    blocked_members: pd.DataFrame  # member_code, rule, item, year, message (every blocking finding)


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


def summarize_cycle(
    conn: duckdb.DuckDBPyConnection, cycle_id: str, series_per_kpi: dict[str, list[str]]
) -> CycleTraceSummary:
    """The cycle's traces in brief; `series_per_kpi`: the cycle's KPIs and their series (for blocked members)."""
    values = conn.execute(
        f"SELECT member_code, kpi_id, series, status, disclosure FROM {KPI_VALUES.qualified} WHERE cycle = ?",
        [cycle_id],
    ).df()
    blocked = [
        r[0]
        for r in conn.execute(
            f"SELECT member_code FROM {MEMBER_SUMMARY.qualified} WHERE cycle = ? AND NOT is_admitted ORDER BY 1",
            [cycle_id],
        ).fetchall()
    ]
    withheld = conn.execute(
        f"SELECT tier, kpi_id, series, group_code AS member_code, reason FROM {WITHHELD.qualified}"
        " WHERE cycle = ? AND statistic = ? AND group_type = 'member'",
        [cycle_id, VALUE],
    ).df()
    controlled = {(r.tier, r.member_code, r.kpi_id, r.series) for r in withheld.itertuples()}

    by_status = {s: int((values["status"] == s).sum()) for s in VALUE_STATUSES}
    by_status[BLOCKED] = len(blocked) * sum(len(s) for s in series_per_kpi.values())
    rows = []
    for kpi_id, all_series in series_per_kpi.items():
        for series in all_series:
            mine = values[(values["kpi_id"] == kpi_id) & (values["series"] == series)]
            row: dict[str, object] = {"kpi_id": kpi_id, "series": series}
            row |= {s: int((mine["status"] == s).sum()) for s in VALUE_STATUSES}
            row[BLOCKED] = len(blocked)
            for tier in TIERS:
                by_choice = sum(1 for d in mine["disclosure"] if not visible_in(d, tier) and tier != TIERS[-1])
                by_control = sum(1 for m in mine["member_code"] if (tier, m, kpi_id, series) in controlled)
                row[f"{tier}_shown"] = len(mine) - by_choice - by_control
                row[f"{tier}_by_choice"] = by_choice
                row[f"{tier}_by_control"] = by_control
            rows.append(row)
    by_series = pd.DataFrame(rows)

    lineage = conn.execute(
        f"SELECT member_code, kpi_id, series, kpi_status, formula, item, year - reporting_year AS year_offset,"
        f" answer_status, answer_value FROM {PROVENANCE.qualified} WHERE cycle = ? AND kpi_status <> 'reported'"
        " ORDER BY kpi_id, series, member_code, item, year",
        [cycle_id],
    ).df()
    reasons = []
    for (member, kpi_id, series), answers in lineage.groupby(["member_code", "kpi_id", "series"], sort=True):
        first = answers.iloc[0]
        inputs = [
            (r.item, int(r.year_offset), r.answer_status, None if pd.isna(r.answer_value) else float(r.answer_value))
            for r in answers.itertuples()
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
    blocked_members = conn.execute(
        f"SELECT member_code, rule, item, year, message FROM {FINDINGS.qualified}"
        " WHERE cycle = ? AND severity = 'blocking' ORDER BY member_code, rule, item, year",
        [cycle_id],
    ).df()
    return CycleTraceSummary(by_status, by_series, without_number, blocked_members)
