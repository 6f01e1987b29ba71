"""Rollup maths: per KPI series and member group, the statistics the PMM publishes, over reported values only.

The default figure is the unweighted mean of member values with the exact median and "n of N"
coverage (what the PMM report and its peers publish); the pooled ratio (sum of numerators over
sum of denominators) is a second statistic for ratio KPIs. Categorical KPIs are rolled up as
counts per level. Statistics a KPI does not declare are left NULL.

Every published statistic is finite. Sums of finite doubles can overflow (two values of 1e308), so
a mean or pooled ratio whose plain sum is not finite is computed again on values scaled by the
group's largest magnitude (a mean is then never larger than that magnitude); a statistic that still
cannot be represented as a finite double (a pooled ratio that truly exceeds the range, an input
that is itself infinite or NaN) is NULL, with `suppressed` true and `<statistic>:not_finite` in
`suppression_reason`, never an infinity or NaN.
"""

from dataclasses import dataclass

from pmm_pipeline.specs.catalogue.formula import Formula
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape, Statistic
from pmm_pipeline.warehouse.tables import KPI_VALUES, PARTICIPATION

NOT_FINITE = "not_finite"  # the reason of a statistic that cannot be represented as a finite double

# One row per (participating member, group it belongs to) for each grouping compared.
GROUPS_CTE = """
groups AS (
    SELECT member_code, 'global' AS group_type, 'all' AS group_code FROM participants
    UNION ALL SELECT member_code, 'region', region_code FROM participants
    UNION ALL SELECT member_code, 'income_group', income_group FROM participants
    UNION ALL SELECT member_code, 'landlocked', landlocked FROM participants
    UNION ALL SELECT member_code, 'admin_type', admin_type FROM participants
)"""


@dataclass(frozen=True)
class CompiledRollups:
    sql: str
    params: dict[str, object]


def render_rollups_sql(kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula]) -> CompiledRollups:
    """SELECT yielding rollup.rollups' columns for the cycle bound as $cycle."""
    numeric = [k for k in kpis if k.shape != Shape.categorical]
    categorical = [k for k in kpis if k.shape == Shape.categorical]

    def declaring(statistic: Statistic) -> list[str]:
        return [k.id for k in numeric if statistic in k.rollup.statistics]

    levels = [
        (k.id, level.code)
        for k in categorical
        for level in k.item(formulas[(k.id, k.series[0].id)].refs[0].item).answer_levels
    ]
    params: dict[str, object] = {
        "mean_kpis": declaring(Statistic.mean),
        "median_kpis": declaring(Statistic.median),
        "min_kpis": declaring(Statistic.min),
        "max_kpis": declaring(Statistic.max),
        "pooled_kpis": declaring(Statistic.pooled),
        "numeric_kpis": [k.id for k in numeric] or [""],
        "level_kpis": [kpi for kpi, _ in levels] or [""],
        "level_codes": [code for _, code in levels] or [""],
        "not_finite": NOT_FINITE,
    }
    sql = f"""
WITH participants AS (
    SELECT * FROM {PARTICIPATION.qualified} WHERE cycle = $cycle AND is_participating
),
{GROUPS_CTE.strip()},
values_in_groups AS (
    SELECT v.*, g.group_type, g.group_code,
        -- The group's largest magnitudes: the scale a sum is computed at when its plain form overflows.
        max(abs(v.value)) OVER w AS value_scale,
        max(abs(v.numerator)) OVER w AS numerator_scale,
        max(abs(v.denominator)) OVER w AS denominator_scale
    FROM {KPI_VALUES.qualified} AS v JOIN groups AS g USING (member_code)
    WHERE v.cycle = $cycle
    WINDOW w AS (PARTITION BY v.kpi_id, v.series, g.group_type, g.group_code)
),
numeric_raw AS (
    SELECT
        kpi_id, series, group_type, group_code,
        count(value) AS n_reporting,
        count(*) AS n_participating,
        -- favg/fsum (compensated) rather than avg/sum: a plain double sum depends on the order DuckDB's
        -- threads meet the rows, so re-runs published different last digits (benchmarks/kpi_rollups.py).
        -- The scaled form is used only when the plain one is not finite, so ordinary figures keep every bit.
        CASE WHEN list_contains($mean_kpis, kpi_id) THEN
            CASE WHEN isfinite(favg(value)) THEN favg(value)
                 ELSE favg(value / nullif(value_scale, 0)) * any_value(value_scale) END
        END AS mean,
        CASE WHEN list_contains($median_kpis, kpi_id) THEN quantile_cont(value, 0.5) END AS median,
        CASE WHEN list_contains($min_kpis, kpi_id) THEN min(value) END AS min,
        CASE WHEN list_contains($max_kpis, kpi_id) THEN max(value) END AS max,
        CASE WHEN list_contains($pooled_kpis, kpi_id) THEN
            -- Both sums must be finite: a finite numerator over an overflowed denominator would give 0.
            CASE WHEN isfinite(fsum(numerator)) AND isfinite(fsum(denominator))
                 THEN fsum(numerator) / nullif(fsum(denominator), 0)
                 ELSE fsum(numerator / nullif(numerator_scale, 0))
                      / nullif(fsum(denominator / nullif(denominator_scale, 0)), 0)
                      * (any_value(numerator_scale) / any_value(denominator_scale)) END
        END AS pooled
    FROM values_in_groups
    WHERE list_contains($numeric_kpis, kpi_id)
    GROUP BY kpi_id, series, group_type, group_code
),
numeric_rollups AS (
    -- A statistic that exists but is not finite is NULL with its reason (see the module's docstring).
    SELECT kpi_id, series, group_type, group_code, n_reporting, n_participating,
        CASE WHEN isfinite(mean) THEN mean END AS mean,
        CASE WHEN isfinite(median) THEN median END AS median,
        CASE WHEN isfinite(min) THEN min END AS min,
        CASE WHEN isfinite(max) THEN max END AS max,
        CASE WHEN isfinite(pooled) THEN pooled END AS pooled,
        nullif(concat_ws(';',
            CASE WHEN NOT isfinite(mean) THEN 'mean:' || $not_finite END,
            CASE WHEN NOT isfinite(median) THEN 'median:' || $not_finite END,
            CASE WHEN NOT isfinite(min) THEN 'min:' || $not_finite END,
            CASE WHEN NOT isfinite(max) THEN 'max:' || $not_finite END,
            CASE WHEN NOT isfinite(pooled) THEN 'pooled:' || $not_finite END
        ), '') AS suppression_reason
    FROM numeric_raw
),
levels AS (
    SELECT unnest($level_kpis) AS kpi_id, unnest($level_codes) AS level_code
),
level_rollups AS (
    SELECT
        v.kpi_id,
        CASE WHEN v.series = 'total' THEN l.level_code ELSE v.series || ':' || l.level_code END AS series,
        v.group_type, v.group_code,
        count(*) FILTER (WHERE v.status = 'reported' AND v.level_code = l.level_code) AS n_reporting,
        count(*) AS n_participating,
        100.0 * count(*) FILTER (WHERE v.status = 'reported' AND v.level_code = l.level_code)
            / nullif(count(*) FILTER (WHERE v.status = 'reported'), 0) AS mean,
        NULL::DOUBLE AS median, NULL::DOUBLE AS min, NULL::DOUBLE AS max, NULL::DOUBLE AS pooled,
        NULL::VARCHAR AS suppression_reason
    FROM values_in_groups AS v JOIN levels AS l ON l.kpi_id = v.kpi_id
    GROUP BY v.kpi_id, v.series, l.level_code, v.group_type, v.group_code
)
SELECT $cycle AS cycle, kpi_id, series, group_type, group_code, n_reporting, n_participating,
       mean, median, min, max, pooled, suppression_reason IS NOT NULL AS suppressed, suppression_reason
FROM (SELECT * FROM numeric_rollups UNION ALL SELECT * FROM level_rollups)
ORDER BY kpi_id, series, group_type, group_code
"""
    return CompiledRollups(sql=sql, params=params)
