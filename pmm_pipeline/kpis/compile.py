"""Compiling the KPI catalogue of a cycle into one DuckDB query over the staged answers.

The staged answers are pivoted once (one column per item and year that any formula uses), then
every KPI series is one SELECT over the pivot. Item codes, years and KPI ids are bound as
parameters; the SQL text holds only generated column names and the formulas' arithmetic.

Answer states flow through the formulas: an input `not_applicable` makes the value
`not_applicable`; a `not_available` or missing input makes it `missing`; a zero denominator makes
it `undefined`. Only `reported` values carry a number.
"""

from dataclasses import dataclass

from pmm_pipeline.catalogue.formula import Formula, ItemRef, render_sql
from pmm_pipeline.catalogue.models import KpiSpec, Shape


@dataclass(frozen=True)
class CompiledKpis:
    sql: str
    params: dict[str, object]


def _status_case(refs: tuple[ItemRef, ...], index: dict[ItemRef, int], raw_value: str) -> str:
    statuses = [f"s{index[r]}" for r in refs]
    not_applicable = " OR ".join(f"{s} = 'not_applicable'" for s in statuses)
    not_reported = " OR ".join(f"coalesce({s}, 'missing') <> 'reported'" for s in statuses)
    return (
        f"CASE WHEN {not_applicable} THEN 'not_applicable'"
        f" WHEN {not_reported} THEN 'missing'"
        f" WHEN ({raw_value}) IS NULL OR NOT isfinite({raw_value}) THEN 'undefined'"
        " ELSE 'reported' END"
    )


def render_kpi_values_sql(
    kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula], reporting_year: int
) -> CompiledKpis:
    """SELECT yielding kpi.kpi_values' columns (disclosure and flags joined by the caller's SQL)."""
    refs = sorted({ref for k in kpis for s in k.series for ref in formulas[(k.id, s.id)].refs})
    index = {ref: i for i, ref in enumerate(refs)}  # pivot columns v<i>, s<i>, t<i>: value, status, level
    params: dict[str, object] = {}
    pivot_columns = []
    for i, ref in enumerate(refs):
        params[f"item{i}"] = ref.item
        params[f"year{i}"] = reporting_year + ref.offset
        where = f"item = $item{i} AND year = $year{i}"
        pivot_columns += [
            f"max(value) FILTER (WHERE {where}) AS v{i}",
            f"max(status) FILTER (WHERE {where}) AS s{i}",
            f"max(value_text) FILTER (WHERE {where}) AS t{i}",
        ]

    def column(ref: ItemRef) -> str:
        return f"v{index[ref]}"

    branches = []
    for j, (kpi, series) in enumerate((k, s) for k in kpis for s in k.series):
        formula = formulas[(kpi.id, series.id)]
        params[f"kpi{j}"] = kpi.id
        params[f"series{j}"] = series.id
        raw_value = render_sql(formula.tree, column)
        numerator = denominator = "NULL::DOUBLE"
        if kpi.shape == Shape.ratio and (parts := formula.ratio_parts()):
            numerator, denominator = (render_sql(p, column) for p in parts)
        level_code = "NULL::VARCHAR"
        if kpi.shape == Shape.categorical:
            level_code = f"t{index[formula.refs[0]]}"
        branches.append(
            f"SELECT member_code, $kpi{j} AS kpi_id, $series{j} AS series, {raw_value} AS raw_value,"
            f" {_status_case(formula.refs, index, raw_value)} AS status,"
            f" {numerator} AS numerator, {denominator} AS denominator, {level_code} AS level_code"
            " FROM inputs"
        )
    union = "\n    UNION ALL\n    ".join(branches)
    sql = f"""
WITH answers_wide AS (
    SELECT member_code,
        {(',' + chr(10) + '        ').join(pivot_columns)}
    FROM staging.answers
    WHERE cycle = $cycle
    GROUP BY member_code
),
participants AS (
    SELECT member_code, submission_id FROM staging.participation WHERE cycle = $cycle AND is_participating
),
inputs AS (
    SELECT participants.member_code, answers_wide.* EXCLUDE (member_code)
    FROM participants LEFT JOIN answers_wide USING (member_code)
),
computed AS (
    {union}
)
SELECT
    $cycle AS cycle,
    $reporting_year AS reporting_year,
    c.member_code, c.kpi_id, c.series,
    CASE WHEN c.status = 'reported' THEN c.raw_value END AS value,
    c.status,
    coalesce(d.disclosure, 'secretariat') AS disclosure,
    '' AS flags,
    CASE WHEN c.status = 'reported' THEN c.numerator END AS numerator,
    CASE WHEN c.status = 'reported' THEN c.denominator END AS denominator,
    CASE WHEN c.status = 'reported' THEN c.level_code END AS level_code,
    p.submission_id
FROM computed AS c
JOIN participants AS p USING (member_code)
LEFT JOIN staging.disclosure AS d
    ON d.cycle = $cycle AND d.member_code = c.member_code AND d.kpi_id = c.kpi_id
ORDER BY c.kpi_id, c.series, c.member_code
"""
    params["reporting_year"] = reporting_year
    return CompiledKpis(sql=sql, params=params)
