"""Collection status of a cycle: completeness and timeliness per region, and who has not submitted yet."""

from pmm_pipeline.warehouse.tables import KPI_VALUES, PARTICIPATION, REJECTIONS, SUBMISSIONS

# One row per member in force with what arrived from it; grouped twice (all members, each region).
COMPLETENESS_SQL = f"""
WITH versions AS (
    SELECT
        member_code,
        bool_or(NOT is_late) AS has_on_time_version,
        count(*) FILTER (WHERE is_late) AS versions_late,
        count(*) FILTER (WHERE is_frozen_out) AS versions_frozen_out
    FROM {SUBMISSIONS.qualified}
    WHERE cycle = $cycle
    GROUP BY member_code
),
opted_out AS (
    SELECT member_code, count(DISTINCT kpi_id) AS kpis_opted_out
    FROM {KPI_VALUES.qualified}
    WHERE cycle = $cycle AND status = 'not_applicable'
    GROUP BY member_code
),
per_member AS (
    SELECT
        p.member_code,
        p.region_code,
        v.member_code IS NOT NULL AS has_received,
        coalesce(v.has_on_time_version, false) AS has_on_time_version,
        p.is_participating,
        coalesce(v.versions_late, 0) AS versions_late,
        coalesce(v.versions_frozen_out, 0) AS versions_frozen_out,
        CASE WHEN p.is_participating THEN coalesce(o.kpis_opted_out, 0) ELSE 0 END AS kpis_opted_out
    FROM {PARTICIPATION.qualified} AS p
    LEFT JOIN versions AS v USING (member_code)
    LEFT JOIN opted_out AS o USING (member_code)
    WHERE p.cycle = $cycle
),
grouped AS (
    SELECT 'global' AS group_type, 'all' AS group_code, * FROM per_member
    UNION ALL
    SELECT 'region' AS group_type, region_code AS group_code, * FROM per_member
)
SELECT
    $cycle AS cycle,
    group_type,
    group_code,
    count(*) AS members_expected,
    count(*) FILTER (WHERE has_received) AS members_received,
    count(*) FILTER (WHERE has_on_time_version) AS members_received_on_time,
    count(*) FILTER (WHERE is_participating) AS members_participating,
    count(*) FILTER (WHERE NOT has_received) AS members_outstanding,
    sum(versions_late) AS versions_late,
    sum(versions_frozen_out) AS versions_frozen_out,
    count(*) FILTER (WHERE kpis_opted_out > 0) AS members_opting_out,
    sum(kpis_opted_out) AS kpis_opted_out,
    100.0 * count(*) FILTER (WHERE has_received) / count(*) AS received_pct,
    100.0 * count(*) FILTER (WHERE has_on_time_version) / count(*) AS received_on_time_pct
FROM grouped
GROUP BY group_type, group_code
ORDER BY group_type, group_code
"""

# A rejected file is attributed to a member by the code its name starts with (KEN_2023_v1.json):
# the content of a rejected file cannot be trusted to say whose it is.
OUTSTANDING_MEMBERS_SQL = f"""
WITH received AS (
    SELECT DISTINCT member_code FROM {SUBMISSIONS.qualified} WHERE cycle = $cycle
),
rejected AS (
    SELECT DISTINCT upper(regexp_extract(file_name, '^([A-Za-z]{{3}})([_. -]|$)', 1)) AS member_code
    FROM {REJECTIONS.qualified}
    WHERE cycle = $cycle
)
SELECT
    $cycle AS cycle,
    p.member_code,
    p.member_name,
    p.region_code,
    p.language,
    rejected.member_code IS NOT NULL AS has_rejected_files,
    $listed_on AS listed_on,
    $closes_on AS closes_on,
    datediff('day', $listed_on, $closes_on) AS days_left
FROM {PARTICIPATION.qualified} AS p
LEFT JOIN rejected USING (member_code)
WHERE p.cycle = $cycle AND p.member_code NOT IN (SELECT member_code FROM received)
ORDER BY p.region_code, p.member_code
"""
