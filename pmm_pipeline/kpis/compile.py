"""Compiling the KPI catalogue of a cycle into one DuckDB query over the answers the quality gate admitted.

The admitted answers are pivoted once (one column per item and year that any formula uses), then
every KPI series is one SELECT over the pivot. Item codes, years and KPI ids are bound as
parameters; the SQL text holds only generated column names and indexes and the formulas' arithmetic.

For the pivot, a join to the list of (item, year) the formulas read numbers each answer (`ref`) and
drops the answers no formula reads; each pivot column is then `max(CASE WHEN ref = i THEN ...)`. A
filtered aggregate per column, `max(value) FILTER (WHERE item = .. AND year = ..)`, made DuckDB
compare every answer's item and year once per column (117 times with the shipped catalogue): the
stage's largest cost at 10^7 answers. (A map per member built with `list()` was as fast, but its
state cannot spill: out of memory under the warehouse's memory_limit. See BENCHMARKS.md.)

Answer states flow through the formulas: an input `not_applicable` makes the value
`not_applicable`; a `not_available` or missing input makes it `missing`; a zero denominator makes
it `undefined`. Only `reported` values carry a number.

Only members the quality gate admitted get values; a value's `flags` are the warning rules found on the
answers (item, year) its formula reads.
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
    not_reported = " OR ".join(f"{s} IS DISTINCT FROM 'reported'" for s in statuses)
    return (
        f"CASE WHEN {not_applicable} THEN 'not_applicable'"
        f" WHEN {not_reported} THEN 'missing'"
        f" WHEN NOT coalesce(isfinite({raw_value}), false) THEN 'undefined'"  # NULL (0 denominator), inf or NaN
        " ELSE 'reported' END"
    )


def render_kpi_values_sql(
    kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula], reporting_year: int
) -> CompiledKpis:
    """SELECT yielding kpi.kpi_values' columns for the cycle bound as $cycle."""
    refs = sorted({ref for k in kpis for s in k.series for ref in formulas[(k.id, s.id)].refs})
    index = {ref: i for i, ref in enumerate(refs)}  # pivot columns v<i>, s<i>, t<i>: value, status, level
    params: dict[str, object] = {
        "ref_items": [ref.item for ref in refs],
        "ref_years": [reporting_year + ref.offset for ref in refs],
    }
    pivot_columns = [
        f"max(CASE WHEN ref = {i} THEN {field} END) AS {name}{i}"
        for i in range(len(refs))
        for name, field in (("v", "value"), ("s", "status"), ("t", "value_text"))
    ]

    def column(ref: ItemRef) -> str:
        return f"v{index[ref]}"

    branches = []
    read_by_series: list[tuple[str, str, str, int]] = []  # (KPI, series, item, year) the value reads
    for j, (kpi, series) in enumerate((k, s) for k in kpis for s in k.series):
        formula = formulas[(kpi.id, series.id)]
        params[f"kpi{j}"] = kpi.id
        params[f"series{j}"] = series.id
        read_by_series += [(kpi.id, series.id, r.item, reporting_year + r.offset) for r in formula.refs]
        numerator = denominator = "NULL::DOUBLE"
        if kpi.shape == Shape.ratio and (parts := formula.ratio_parts()):
            numerator, denominator = (render_sql(p, column) for p in parts)
            # The value from the two rendered parts rather than rendering the parts again inside the whole
            # formula: sqlglot takes about 1 ms a rendering, a large share of the stage at the size of a cycle.
            raw_value = f"CAST({numerator} / NULLIF({denominator}, 0) AS DOUBLE)"
        else:
            raw_value = render_sql(formula.tree, column)
        level_code = "NULL::VARCHAR"
        if kpi.shape == Shape.categorical:
            level_code = f"t{index[formula.refs[0]]}"
        branches.append(
            f"SELECT member_code, submission_id, $kpi{j} AS kpi_id, $series{j} AS series, {raw_value} AS raw_value,"
            f" {_status_case(formula.refs, index, raw_value)} AS status,"
            f" {numerator} AS numerator, {denominator} AS denominator, {level_code} AS level_code"
            " FROM inputs"
        )
    union = "\n    UNION ALL\n    ".join(branches)
    sql = f"""
WITH refs AS (
    SELECT unnest($ref_items) AS item, unnest($ref_years) AS year, generate_subscripts($ref_items, 1) - 1 AS ref
),
answers_wide AS (
    SELECT member_code,
        {(',' + chr(10) + '        ').join(pivot_columns)}
    FROM quality.admitted_answers JOIN refs USING (item, year)
    WHERE cycle = $cycle
    GROUP BY member_code
),
participants AS (
    SELECT p.member_code, p.submission_id
    FROM staging.participation AS p
    JOIN quality.member_summary AS q ON q.cycle = p.cycle AND q.member_code = p.member_code
    WHERE p.cycle = $cycle AND p.is_participating AND q.is_admitted
),
inputs AS (
    SELECT participants.*, answers_wide.* EXCLUDE (member_code)
    FROM participants LEFT JOIN answers_wide USING (member_code)
),
computed AS (
    {union}
),
series_reads AS (
    SELECT unnest($read_kpis) AS kpi_id, unnest($read_series) AS series,
        unnest($read_items) AS item, unnest($read_years) AS year
),
value_flags AS (
    SELECT f.member_code, r.kpi_id, r.series, string_agg(DISTINCT f.rule, ';' ORDER BY f.rule) AS flags
    FROM quality.findings AS f
    JOIN series_reads AS r ON r.item = f.item AND r.year = f.year
    WHERE f.cycle = $cycle AND f.severity = 'warning'
    GROUP BY f.member_code, r.kpi_id, r.series
)
SELECT
    $cycle AS cycle,
    $reporting_year AS reporting_year,
    c.member_code, c.kpi_id, c.series,
    CASE WHEN c.status = 'reported' THEN c.raw_value END AS value,
    c.status,
    coalesce(d.disclosure, 'secretariat') AS disclosure,
    coalesce(vf.flags, '') AS flags,
    CASE WHEN c.status = 'reported' THEN c.numerator END AS numerator,
    CASE WHEN c.status = 'reported' THEN c.denominator END AS denominator,
    CASE WHEN c.status = 'reported' THEN c.level_code END AS level_code,
    c.submission_id
FROM computed AS c
LEFT JOIN staging.disclosure AS d
    ON d.cycle = $cycle AND d.member_code = c.member_code AND d.kpi_id = c.kpi_id
LEFT JOIN value_flags AS vf
    ON vf.member_code = c.member_code AND vf.kpi_id = c.kpi_id AND vf.series = c.series
ORDER BY c.kpi_id, c.series, c.member_code
"""
    params["reporting_year"] = reporting_year
    params["read_kpis"], params["read_series"], params["read_items"], params["read_years"] = (
        list(column) for column in zip(*read_by_series, strict=True)
    )
    return CompiledKpis(sql=sql, params=params)
