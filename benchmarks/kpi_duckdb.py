"""The KPI benchmark's hand-written DuckDB baseline: one query per table (kpi_values, rollups) for the four forms
of formula it knows, written into bench_sql.* through the same warehouse/writes.py helper as the pipeline.

It is compared with the pipeline on the KPIs whose formulas all have one of its forms (benchmarks/kpi_series.py).
"""

import duckdb

from benchmarks.kpi_series import cycle_series, hand_sql_kpis
from benchmarks.kpi_warehouse import CYCLE, result_tables
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.warehouse.writes import replace_cycle_rows_from_sql


def _catalogue_params(catalogue: Catalogue, version: str, year: int) -> dict[str, object]:
    covered = set(hand_sql_kpis(catalogue, version))
    series = [s for s in cycle_series(catalogue, version) if s.kpi_id in covered]
    levels = [
        (s.kpi_id, level.code) for s in series if s.form == "level" for level in catalogue.items[s.a].answer_levels
    ]
    return {
        "kpi": [s.kpi_id for s in series],
        "series": [s.series for s in series],
        "form": [s.form for s in series],
        "scale": [s.scale for s in series],
        "parts": [s.parts for s in series],
        "a_item": [s.a for s in series],
        "b_item": [s.b if s.form == "ratio" else s.a if s.form == "variation" else None for s in series],
        "b_year": [year if s.form == "ratio" else year - 1 if s.form == "variation" else None for s in series],
        "statistics": [sorted(s.statistics) for s in series],
        "level_kpi": [k for k, _ in levels],
        "level_code": [c for _, c in levels],
    }


# One query per table, written by hand for the four forms: every (member, series) row picks its one or two
# answers by join, and the formula is chosen by the series' form.
HAND_KPI_VALUES_SQL = """
WITH series AS (
    SELECT unnest($kpi) AS kpi_id, unnest($series) AS series, unnest($form) AS form, unnest($scale) AS scale,
        unnest($parts) AS parts, unnest($a_item) AS a_item, unnest($b_item) AS b_item, unnest($b_year) AS b_year
),
members AS (
    SELECT p.member_code, p.submission_id
    FROM staging.participation AS p
    JOIN quality.member_summary AS q ON q.cycle = p.cycle AND q.member_code = p.member_code
    WHERE p.cycle = $cycle AND p.is_participating AND q.is_admitted
),
answers AS (
    SELECT member_code, item, year, value, value_text, status FROM quality.admitted_answers WHERE cycle = $cycle
),
inputs AS (
    SELECT m.member_code, m.submission_id, s.*,
        a.value AS a, a.status AS a_status, a.value_text AS a_level, b.value AS b, b.status AS b_status
    FROM members AS m
    CROSS JOIN series AS s
    LEFT JOIN answers AS a ON a.member_code = m.member_code AND a.item = s.a_item AND a.year = $year
    LEFT JOIN answers AS b ON b.member_code = m.member_code AND b.item = s.b_item AND b.year = s.b_year
),
computed AS (
    SELECT *,
        CASE form
            WHEN 'ratio' THEN scale * a / nullif(b, 0)
            WHEN 'variation' THEN scale * (a - b) / nullif(b, 0)
            ELSE a
        END AS raw_value
    FROM inputs
),
judged AS (
    SELECT *,
        CASE
            WHEN a_status = 'not_applicable' OR b_status = 'not_applicable' THEN 'not_applicable'
            WHEN coalesce(a_status, '') <> 'reported' OR (b_item IS NOT NULL AND coalesce(b_status, '') <> 'reported')
                THEN 'missing'
            WHEN raw_value IS NULL OR NOT isfinite(raw_value) THEN 'undefined'
            ELSE 'reported'
        END AS status
    FROM computed
),
flags AS (
    SELECT f.member_code, s.kpi_id, s.series, string_agg(DISTINCT f.rule, ';' ORDER BY f.rule) AS flags
    FROM quality.findings AS f
    JOIN series AS s ON f.item = s.a_item AND f.year = $year OR f.item = s.b_item AND f.year = s.b_year
    WHERE f.cycle = $cycle AND f.severity = 'warning'
    GROUP BY ALL
)
SELECT $cycle AS cycle, $year AS reporting_year, j.member_code, j.kpi_id, j.series,
    CASE WHEN status = 'reported' THEN raw_value END AS value,
    status,
    coalesce(d.disclosure, 'secretariat') AS disclosure,
    coalesce(flags.flags, '') AS flags,
    CASE WHEN status = 'reported' AND parts THEN scale * a END AS numerator,
    CASE WHEN status = 'reported' AND parts THEN b END AS denominator,
    CASE WHEN status = 'reported' AND form = 'level' THEN a_level END AS level_code,
    j.submission_id
FROM judged AS j
LEFT JOIN staging.disclosure AS d ON d.cycle = $cycle AND d.member_code = j.member_code AND d.kpi_id = j.kpi_id
LEFT JOIN flags ON flags.member_code = j.member_code AND flags.kpi_id = j.kpi_id AND flags.series = j.series
"""

HAND_ROLLUPS_SQL = """
WITH series AS (
    SELECT unnest($kpi) AS kpi_id, unnest($series) AS series, unnest($form) AS form, unnest($parts) AS parts,
        unnest($statistics) AS statistics
),
levels AS (SELECT unnest($level_kpi) AS kpi_id, unnest($level_code) AS level_code),
member_groups AS (
    SELECT member_code, unnest(['global', 'region', 'income_group', 'landlocked', 'admin_type']) AS group_type,
        unnest(['all', region_code, income_group, landlocked, admin_type]) AS group_code
    FROM staging.participation
    WHERE cycle = $cycle AND is_participating
),
grouped AS (
    SELECT v.*, s.form, s.parts, s.statistics, g.group_type, g.group_code
    FROM {kpi_values} AS v
    JOIN series AS s USING (kpi_id, series)
    JOIN member_groups AS g USING (member_code)
    WHERE v.cycle = $cycle
)
SELECT $cycle AS cycle, kpi_id, series, group_type, group_code,
    count(value) AS n_reporting, count(*) AS n_participating,
    CASE WHEN list_contains(any_value(statistics), 'mean') THEN favg(value) END AS mean,
    CASE WHEN list_contains(any_value(statistics), 'median') THEN quantile_cont(value, 0.5) END AS median,
    CASE WHEN list_contains(any_value(statistics), 'min') THEN min(value) END AS min,
    CASE WHEN list_contains(any_value(statistics), 'max') THEN max(value) END AS max,
    CASE WHEN list_contains(any_value(statistics), 'pooled') THEN fsum(numerator) / nullif(fsum(denominator), 0)
    END AS pooled,
    false AS suppressed, NULL AS suppression_reason
FROM grouped
WHERE form <> 'level'
GROUP BY kpi_id, series, group_type, group_code
UNION ALL
SELECT $cycle, g.kpi_id,
    CASE WHEN g.series = 'total' THEN l.level_code ELSE g.series || ':' || l.level_code END,
    group_type, group_code,
    count(*) FILTER (WHERE status = 'reported' AND g.level_code = l.level_code),
    count(*),
    100.0 * count(*) FILTER (WHERE status = 'reported' AND g.level_code = l.level_code)
        / nullif(count(*) FILTER (WHERE status = 'reported'), 0),
    NULL, NULL, NULL, NULL, false, NULL
FROM grouped AS g
JOIN levels AS l ON l.kpi_id = g.kpi_id
GROUP BY g.kpi_id, g.series, l.level_code, group_type, group_code
"""


def run_duckdb(conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue) -> dict[str, float]:
    """The two hand-written queries, each replacing the cycle's rows of its bench_sql table."""
    cycle = reference.cycles.get(CYCLE)
    kpi_table, rollup_table = result_tables("duckdb")
    params = _catalogue_params(catalogue, cycle.catalogue_version, cycle.reporting_year)
    kpi_params = {k: params[k] for k in ("kpi", "series", "form", "scale", "parts", "a_item", "b_item", "b_year")}
    replace_cycle_rows_from_sql(
        conn, kpi_table, CYCLE, HAND_KPI_VALUES_SQL, {**kpi_params, "cycle": CYCLE, "year": cycle.reporting_year}
    )
    rollup_params = {k: params[k] for k in ("kpi", "series", "form", "parts", "statistics", "level_kpi", "level_code")}
    # The table name is the benchmark's own constant, not a value.
    sql = HAND_ROLLUPS_SQL.format(kpi_values=kpi_table.qualified)
    replace_cycle_rows_from_sql(conn, rollup_table, CYCLE, sql, {**rollup_params, "cycle": CYCLE})
    return {}
