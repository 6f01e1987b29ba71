"""Staging: the latest accepted version per member, the members in force with their groups, disclosure choices."""

import pandas as pd

from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.warehouse.tables import PARTICIPATION, RAW_ANSWERS, RAW_DISCLOSURE, SUBMISSIONS


def membership_frame(reference: Reference, cycle: Cycle) -> pd.DataFrame:
    """Members in force on the cycle's membership date, with the groups they belong to then."""
    rows = [
        {
            "member_code": m.member_code,
            "member_name": m.name_en,
            "region_code": m.region_code,
            "income_group": m.income_group,
            "landlocked": m.group_code("landlocked"),
            "admin_type": m.admin_type,
            "language": m.language,
        }
        for m in sorted(reference.members_in_force(cycle).values(), key=lambda m: m.member_code)
    ]
    return pd.DataFrame(
        rows,
        columns=["member_code", "member_name", "region_code", "income_group", "landlocked", "admin_type", "language"],
    )


# `_members_in_force` is the frame above, registered by the caller.
PARTICIPATION_SQL = f"""
WITH latest AS (
    SELECT member_code, submission_id, version, submitted_at
    FROM {SUBMISSIONS.qualified}
    WHERE cycle = $cycle AND is_latest
)
SELECT
    $cycle AS cycle,
    m.member_code, m.member_name, m.region_code, m.income_group, m.landlocked, m.admin_type, m.language,
    latest.submission_id IS NOT NULL AS is_participating,
    latest.submission_id, latest.version, latest.submitted_at
FROM _members_in_force AS m
LEFT JOIN latest USING (member_code)
ORDER BY m.member_code
"""

STAGED_ANSWERS_SQL = f"""
SELECT
    a.cycle, a.member_code, a.item, a.year, a.value, a.value_text, a.status, a.comment,
    a.submission_id, s.version,
    a.source_file, a.source_pointer, a.source_sheet, a.source_cell, a.source_line
FROM {RAW_ANSWERS.qualified} AS a
JOIN {SUBMISSIONS.qualified} AS s USING (cycle, submission_id)
WHERE a.cycle = $cycle AND s.is_latest
ORDER BY a.member_code, a.item, a.year
"""

# Every participating member gets a row for every KPI of the cycle: an unstated choice is secretariat.
DISCLOSURE_SQL = f"""
WITH kpis AS (SELECT unnest($kpi_ids) AS kpi_id)
SELECT p.cycle, p.member_code, k.kpi_id, coalesce(d.disclosure, $default_disclosure) AS disclosure
FROM {PARTICIPATION.qualified} AS p
CROSS JOIN kpis AS k
LEFT JOIN {RAW_DISCLOSURE.qualified} AS d
    ON d.cycle = p.cycle AND d.submission_id = p.submission_id AND d.kpi_id = k.kpi_id
WHERE p.cycle = $cycle AND p.is_participating
ORDER BY p.member_code, k.kpi_id
"""
