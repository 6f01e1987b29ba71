"""Compiling the KPI catalogue of a cycle into one DuckDB query over the answers the quality gate admitted.

The admitted answers are pivoted once per member (one column per item and year that any formula uses),
and so are the member's disclosure choices (one column per KPI); then one pass over the pivot unnests
a list with one struct per KPI series: the formula's value (or a ratio's numerator and denominator) and
the combined state of its inputs. Item codes, years, KPI and series ids are bound as parameters; the SQL text
holds only generated column names and indexes and the formulas' arithmetic.

For the pivot, a join to the list of (item, year) the formulas read numbers each answer (`ref`) and
drops the answers no formula reads; each pivot column is then `max(CASE WHEN ref = i THEN ...)`. A
filtered aggregate per column, `max(value) FILTER (WHERE item = .. AND year = ..)`, made DuckDB
compare every answer's item and year once per column (117 times with the shipped catalogue): the
stage's largest cost at 10^7 answers. (A map per member built with `list()` was as fast, but its
state cannot spill: out of memory under the warehouse's memory_limit. See BENCHMARKS.md.) The
disclosure choices are pivoted the same way rather than joined to every value by (member, KPI): at
10^7 answers that join of 6M rows to 6M rows took 4.7 s of the earlier statement's 19 s. One unnest of a list of
structs, rather than a UNION ALL of one SELECT per series, reads the pivot once and is a shorter
statement to parse and plan. The rows are not sorted: no reader depends on the table's order, and
those that publish sort their own reads.

Answer states flow through the formulas: an input `not_applicable` makes the value
`not_applicable`; a `not_available` or missing input makes it `missing`; a zero denominator makes
it `undefined`. Only `reported` values carry a number.

Only members the quality gate admitted get values; a value's `flags` are the warning rules found on the
answers (item, year) its formula reads.
"""

from dataclasses import dataclass

from pmm_pipeline.core.vocabulary import DEFAULT_DISCLOSURE
from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef, render_sql
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    DISCLOSURE,
    FINDINGS,
    MEMBER_SUMMARY,
    PARTICIPATION,
)


@dataclass(frozen=True)
class CompiledKpis:
    sql: str
    params: dict[str, object]


# An answer's state as a number, so that a value's inputs combine with greatest(): 2 not_applicable (wins),
# 1 not reported (not_available, or no answer: the pivot's NULL), 0 reported: cheaper to plan and run than two
# text comparisons per input in every series (about 3 ms of the statement at the size of a cycle). The pivot
# keeps min() of the states, which for the three statuses is the state of the text max() kept before
# (reported > not_available > not_applicable), should an answer ever be repeated.
ANSWER_STATE = "CASE status WHEN 'reported' THEN 0 WHEN 'not_applicable' THEN 2 ELSE 1 END"


LIST_SEPARATOR = ",\n        "  # between generated columns or structs in the SQL text, one a line


def _inputs_state(refs: tuple[ItemRef, ...], index: dict[ItemRef, int]) -> str:
    return f"greatest({', '.join(f'coalesce(s{index[r]}, 1)' for r in refs)})"


def render_kpi_values_sql(
    kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula], reporting_year: int
) -> CompiledKpis:
    """SELECT yielding kpi.kpi_values' columns for the cycle bound as $cycle."""
    refs = sorted({ref for k in kpis for s in k.series for ref in formulas[(k.id, s.id)].refs})
    index = {ref: i for i, ref in enumerate(refs)}  # pivot columns v<i>, s<i>, t<i>: value, state, level
    levels_read = {formulas[(k.id, s.id)].refs[0] for k in kpis if k.shape == Shape.categorical for s in k.series}
    kpi_index = {k.id: i for i, k in enumerate(kpis)}  # pivot column d<i>: the member's disclosure choice
    all_series = [(k, s) for k in kpis for s in k.series]
    params: dict[str, object] = {
        "ref_items": [ref.item for ref in refs],
        "ref_years": [reporting_year + ref.offset for ref in refs],
        "kpi_ids": list(kpi_index),
        "series_kpis": [k.id for k, _ in all_series],
        "series_ids": [s.id for _, s in all_series],
        "reporting_year": reporting_year,
        "default_disclosure": DEFAULT_DISCLOSURE,
    }
    pivot_columns = [
        f"{aggregate}(CASE WHEN ref = {i} THEN {field} END) AS {name}{i}"
        for i, ref in enumerate(refs)
        for name, aggregate, field in (("v", "max", "value"), ("s", "min", "state"), ("t", "max", "value_text"))
        if name != "t" or ref in levels_read  # a level's code is read only by categorical KPIs
    ]
    disclosure_columns = [f"max(CASE WHEN k = {i} THEN disclosure END) AS d{i}" for i in kpi_index.values()]

    def column(ref: ItemRef) -> str:
        return f"v{index[ref]}"

    # One struct per series, in the order of $series_kpis/$series_ids. A ratio KPI keeps its numerator and
    # denominator, and its value is their quotient, computed outside the list (`valued`) so that each part is
    # rendered and written once; other KPIs' value is `formula_value`.
    series_structs = []
    read_by_series: list[tuple[str, str, str, int]] = []  # (KPI, series, item, year) the value reads
    for kpi, series in all_series:
        formula = formulas[(kpi.id, series.id)]
        read_by_series += [(kpi.id, series.id, r.item, reporting_year + r.offset) for r in formula.refs]
        value = numerator = denominator = "NULL::DOUBLE"
        if kpi.shape == Shape.ratio and (parts := formula.ratio_parts()):
            numerator, denominator = (render_sql(p, column) for p in parts)
        else:
            value = render_sql(formula.tree, column)
        level_code = f"t{index[formula.refs[0]]}" if kpi.shape == Shape.categorical else "NULL::VARCHAR"
        series_structs.append(
            f"{{'disclosure': d{kpi_index[kpi.id]}, 'formula_value': {value}, 'numerator': {numerator},"
            f" 'denominator': {denominator}, 'level_code': {level_code},"
            f" 'inputs_state': {_inputs_state(formula.refs, index)}}}"
        )
    sql = f"""
WITH refs AS (
    SELECT unnest($ref_items) AS item, unnest($ref_years) AS year, generate_subscripts($ref_items, 1) - 1 AS ref
),
answers_wide AS (
    SELECT member_code,
        {LIST_SEPARATOR.join(pivot_columns)}
    FROM (SELECT *, {ANSWER_STATE} AS state FROM {ADMITTED_ANSWERS.qualified} WHERE cycle = $cycle)
    JOIN refs USING (item, year)
    GROUP BY member_code
),
kpis AS (
    SELECT unnest($kpi_ids) AS kpi_id, generate_subscripts($kpi_ids, 1) - 1 AS k
),
disclosure_wide AS (
    SELECT member_code,
        {LIST_SEPARATOR.join(disclosure_columns)}
    FROM {DISCLOSURE.qualified} JOIN kpis USING (kpi_id)
    WHERE cycle = $cycle
    GROUP BY member_code
),
participants AS (
    SELECT p.member_code, p.submission_id
    FROM {PARTICIPATION.qualified} AS p
    JOIN {MEMBER_SUMMARY.qualified} AS q ON q.cycle = p.cycle AND q.member_code = p.member_code
    WHERE p.cycle = $cycle AND p.is_participating AND q.is_admitted
),
inputs AS (
    SELECT participants.*, answers_wide.* EXCLUDE (member_code), disclosure_wide.* EXCLUDE (member_code)
    FROM participants
    LEFT JOIN answers_wide USING (member_code)
    LEFT JOIN disclosure_wide USING (member_code)
),
computed AS (
    SELECT member_code, submission_id, unnest($series_kpis) AS kpi_id, unnest($series_ids) AS series, unnest([
        {LIST_SEPARATOR.join(series_structs)}
    ], recursive := true)
    FROM inputs
),
valued AS (
    SELECT *, coalesce(formula_value, numerator / NULLIF(denominator, 0)) AS raw_value
    FROM computed
),
judged AS (
    SELECT *,
        CASE WHEN inputs_state = 2 THEN 'not_applicable' WHEN inputs_state = 1 THEN 'missing'
            WHEN NOT coalesce(isfinite(raw_value), false) THEN 'undefined'  -- NULL (0 denominator), inf or NaN
            ELSE 'reported' END AS status
    FROM valued
),
series_reads AS (
    SELECT unnest($read_kpis) AS kpi_id, unnest($read_series) AS series,
        unnest($read_items) AS item, unnest($read_years) AS year
),
value_flags AS (
    SELECT f.member_code, r.kpi_id, r.series, string_agg(DISTINCT f.rule, ';' ORDER BY f.rule) AS flags
    FROM {FINDINGS.qualified} AS f
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
    coalesce(c.disclosure, $default_disclosure) AS disclosure,
    coalesce(vf.flags, '') AS flags,
    CASE WHEN c.status = 'reported' THEN c.numerator END AS numerator,
    CASE WHEN c.status = 'reported' THEN c.denominator END AS denominator,
    CASE WHEN c.status = 'reported' THEN c.level_code END AS level_code,
    c.submission_id
FROM judged AS c
LEFT JOIN value_flags AS vf
    ON vf.member_code = c.member_code AND vf.kpi_id = c.kpi_id AND vf.series = c.series
"""
    params["read_kpis"], params["read_series"], params["read_items"], params["read_years"] = (
        list(column) for column in zip(*read_by_series, strict=True)
    )
    return CompiledKpis(sql=sql, params=params)
