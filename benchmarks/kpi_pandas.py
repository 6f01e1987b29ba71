"""The KPI benchmark's pandas baseline: the inputs read into pandas, every parsed formula evaluated there node by
node on columns (not through stages/kpis/compile.py), whatever its shape, and both tables written back into
bench_pandas.* through the same warehouse/writes.py helper as the pipeline.
"""

import math
import time

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from benchmarks.kpi_series import Series, cycle_series, item_ref, unparen
from benchmarks.kpi_warehouse import CYCLE, result_tables
from pmm_pipeline.specs.catalogue.formula import ItemRef
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.warehouse.tables import KPI_VALUES, ROLLUPS
from pmm_pipeline.warehouse.writes import replace_cycle_rows

GROUP_COLUMNS = {
    "global": None,
    "region": "region_code",
    "income_group": "income_group",
    "landlocked": "landlocked",
    "admin_type": "admin_type",
}


def run_pandas(conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue) -> dict[str, float]:
    """Read the inputs into pandas, compute both tables there, write them back; returns seconds per phase."""
    cycle = reference.cycles.get(CYCLE)

    def read(sql: str) -> pd.DataFrame:
        # Through Arrow: equal strings become one Python object (DuckDB's .df() makes one per cell: gigabytes
        # more at 10^7 answers).
        return conn.sql(sql, params=[CYCLE]).to_arrow_table().to_pandas()

    started = time.perf_counter()
    answers = read(
        "SELECT member_code, item, year, value, value_text, status FROM quality.admitted_answers WHERE cycle = ?"
    )
    participation = read("SELECT * FROM staging.participation WHERE cycle = ?")
    summary = read("SELECT member_code, is_admitted FROM quality.member_summary WHERE cycle = ?")
    findings = read(
        "SELECT member_code, item, year, rule FROM quality.findings WHERE cycle = ? AND severity = 'warning'"
    )
    disclosure = read("SELECT member_code, kpi_id, disclosure FROM staging.disclosure WHERE cycle = ?")
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    series = cycle_series(catalogue, cycle.catalogue_version)
    kpi_values = pandas_kpi_values(answers, participation, summary, findings, disclosure, series, cycle.reporting_year)
    del answers, findings, disclosure  # no longer needed: let the rollups have the memory
    rollups = pandas_rollups(kpi_values, participation, series, catalogue)
    computed = time.perf_counter() - started

    started = time.perf_counter()
    kpi_table, rollup_table = result_tables("pandas")
    replace_cycle_rows(conn, kpi_table, CYCLE, kpi_values)
    replace_cycle_rows(conn, rollup_table, CYCLE, rollups)
    return {"read": read_s, "compute": computed, "write": time.perf_counter() - started}


def pandas_kpi_values(
    answers: pd.DataFrame,
    participation: pd.DataFrame,
    summary: pd.DataFrame,
    findings: pd.DataFrame,
    disclosure: pd.DataFrame,
    series: list[Series],
    year: int,
) -> pd.DataFrame:
    admitted = set(summary.loc[summary["is_admitted"], "member_code"])
    members = participation[participation["is_participating"] & participation["member_code"].isin(admitted)]
    members = members[["member_code", "submission_id"]].reset_index(drop=True)
    # One column per (item, year): a member's answers side by side (the gate admits one answer per item and year).
    wide = {
        field: answers.pivot(index="member_code", columns=["item", "year"], values=field).reindex(
            members["member_code"]
        )
        for field in ("value", "status", "value_text")
    }

    def answer(field: str, item: str | None, item_year: int | None) -> pd.Series:
        frame = wide[field]
        if item is not None and (item, item_year) in frame.columns:
            return frame[(item, item_year)].reset_index(drop=True)
        return pd.Series(np.nan, index=members.index, dtype=float if field == "value" else object)

    def item_value(ref: ItemRef) -> pd.Series:
        return answer("value", ref.item, year + ref.offset).astype(float)

    def as_column(x: pd.Series | float) -> pd.Series:  # a part of a formula may be a number alone
        return x if isinstance(x, pd.Series) else pd.Series(x, index=members.index, dtype=float)

    parts = []
    for s in series:
        reads = s.reads(year)
        with np.errstate(divide="ignore", invalid="ignore"):
            if s.parts:  # a ratio KPI: its value is its numerator over its denominator, both kept
                top = unparen(s.formula.tree)
                numerator = as_column(evaluate(top.this, item_value))
                denominator = as_column(evaluate(top.expression, item_value))
                raw = numerator / denominator.where(denominator != 0)
            else:
                raw = as_column(evaluate(s.formula.tree, item_value))
        statuses = [answer("status", *ref) for ref in reads]
        not_applicable = np.logical_or.reduce([st.eq("not_applicable") for st in statuses])
        not_reported = np.logical_or.reduce([st.ne("reported") for st in statuses])
        status = np.select(
            [not_applicable, not_reported, ~np.isfinite(raw.to_numpy(dtype=float))],
            ["not_applicable", "missing", "undefined"],
            "reported",
        )
        reported = status == "reported"
        parts.append(
            pd.DataFrame(
                {
                    "member_code": members["member_code"],
                    "kpi_id": s.kpi_id,
                    "series": s.series,
                    "value": raw.where(reported),
                    "status": status,
                    "numerator": numerator.where(reported) if s.parts else np.nan,
                    "denominator": denominator.where(reported) if s.parts else np.nan,
                    "level_code": answer("value_text", *reads[0]).where(reported) if s.categorical else None,
                    "submission_id": members["submission_id"],
                }
            )
        )
    values = pd.concat(parts, ignore_index=True)

    reads = pd.DataFrame(
        [(s.kpi_id, s.series, item, item_year) for s in series for item, item_year in set(s.reads(year))],
        columns=["kpi_id", "series", "item", "year"],
    )
    flags = (
        findings.merge(reads, on=["item", "year"])
        .drop_duplicates(["member_code", "kpi_id", "series", "rule"])
        .sort_values("rule")
        .groupby(["member_code", "kpi_id", "series"])["rule"]
        .agg(";".join)
        .rename("flags")
        .reset_index()
    )
    values = values.merge(disclosure, on=["member_code", "kpi_id"], how="left").merge(
        flags, on=["member_code", "kpi_id", "series"], how="left"
    )
    return values.assign(
        cycle=CYCLE,
        reporting_year=year,
        disclosure=values["disclosure"].fillna("secretariat"),
        flags=values["flags"].fillna(""),
    )[KPI_VALUES.column_names]


def pandas_rollups(
    kpi_values: pd.DataFrame, participation: pd.DataFrame, series: list[Series], catalogue: Catalogue
) -> pd.DataFrame:
    """Group statistics, one grouping at a time: five times the rows never sit in memory together."""
    groups = participation[participation["is_participating"]].set_index("member_code")
    level_kpis = {s.kpi_id for s in series if s.categorical}
    statistics = ("mean", "median", "min", "max", "pooled")
    declaring = {stat: {s.kpi_id for s in series if stat in s.statistics} for stat in statistics}
    is_level = kpi_values["kpi_id"].isin(level_kpis)
    numeric = kpi_values.loc[~is_level, ["member_code", "kpi_id", "series", "value", "numerator", "denominator"]]
    levels = pd.DataFrame(
        [
            (s.kpi_id, level.code)
            for s in series
            if s.categorical
            for level in catalogue.items[s.formula.refs[0].item].answer_levels
        ],
        columns=["kpi_id", "level"],
    )
    categorical = kpi_values.loc[is_level, ["member_code", "kpi_id", "series", "status", "level_code"]].merge(
        levels, on="kpi_id"
    )
    categorical = categorical.assign(
        at_level=categorical["status"].eq("reported") & categorical["level_code"].eq(categorical["level"]),
        answered=categorical["status"].eq("reported"),
    )
    parts = []
    keys = ["kpi_id", "series", "group_type", "group_code"]
    for group_type, column in GROUP_COLUMNS.items():
        by_group = _in_groups(numeric, groups, group_type, column).groupby(keys, sort=False)
        stats = by_group.agg(
            n_reporting=("value", "count"),
            n_participating=("value", "size"),
            total=("value", exact_sum),
            min=("value", "min"),
            max=("value", "max"),
            numerator=("numerator", exact_sum),
            denominator=("denominator", exact_sum),
        )
        stats["mean"] = stats["total"] / stats["n_reporting"].where(stats["n_reporting"] > 0)
        # median() takes the mean of the two middle values, bit for bit what quantile_cont(value, 0.5) gives;
        # groupby quantile(0.5) interpolates as lo + (hi - lo) / 2 and can differ in the last bit.
        stats["median"] = by_group["value"].median()
        denominator = stats["denominator"].where(stats["denominator"] != 0)
        stats["pooled"] = stats["numerator"] / denominator
        for stat, kpis in declaring.items():  # a statistic the KPI does not declare is NULL
            stats[stat] = stats[stat].where(stats.index.get_level_values("kpi_id").isin(kpis))
        parts.append(stats.reset_index())

        counts = (
            _in_groups(categorical, groups, group_type, column)
            .groupby([*keys, "level"], sort=False)
            .agg(n_reporting=("at_level", "sum"), n_participating=("at_level", "size"), answered=("answered", "sum"))
            .reset_index()
        )
        counts["mean"] = (100.0 * counts["n_reporting"] / counts["answered"]).where(counts["answered"] > 0)
        counts["series"] = np.where(
            counts["series"] == "total", counts["level"], counts["series"] + ":" + counts["level"]
        )
        parts.append(counts)
    rollups = pd.concat(parts, ignore_index=True)
    return rollups.assign(cycle=CYCLE, suppressed=False, suppression_reason=None)[ROLLUPS.column_names]


def evaluate(node: exp.Expression, item_value) -> pd.Series | float:
    """A parsed formula (or part of one) on columns, node by node, with the catalogue's meaning: a zero
    denominator gives NaN (the KPI is then undefined), and least/greatest skip NaN as SQL skips NULL."""
    if isinstance(node, exp.Paren):
        return evaluate(node.this, item_value)
    if isinstance(node, exp.Bracket):
        return item_value(item_ref(node))
    if isinstance(node, exp.Literal):
        return float(node.this)
    if isinstance(node, exp.Neg):
        return -evaluate(node.this, item_value)
    if isinstance(node, exp.Abs):
        return abs(evaluate(node.this, item_value))
    if isinstance(node, exp.Least | exp.Greatest):
        args = [evaluate(a, item_value) for a in [node.this, *node.expressions]]
        pick = np.fmin if isinstance(node, exp.Least) else np.fmax
        result = args[0]
        for arg in args[1:]:
            result = pick(result, arg)
        return result
    left, right = evaluate(node.this, item_value), evaluate(node.expression, item_value)
    if isinstance(node, exp.Add):
        return left + right
    if isinstance(node, exp.Sub):
        return left - right
    if isinstance(node, exp.Mul):
        return left * right
    if isinstance(node, exp.Div):
        if isinstance(right, pd.Series):
            return left / right.where(right != 0)
        return left / right if right != 0 else np.nan
    raise ValueError(f"{type(node).__name__} is not in the formula language: {node.sql()}")


def _in_groups(frame: pd.DataFrame, groups: pd.DataFrame, group_type: str, column: str | None) -> pd.DataFrame:
    """The rows with the group of their member in a grouping (looked up by member code, not joined in)."""
    code = "all" if column is None else frame["member_code"].map(groups[column])
    return frame.assign(group_type=group_type, group_code=code)


def exact_sum(values: pd.Series) -> float:
    """The correctly rounded sum (NaN when there is none), independent of the order of the values.

    pandas' own sum and mean (Kahan-compensated) can differ from it in the last bit.
    """
    present = values.dropna()
    return math.fsum(present.tolist()) if len(present) else np.nan
