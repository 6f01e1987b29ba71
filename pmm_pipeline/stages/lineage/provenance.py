"""Lineage of every KPI value: one row per value and answer its formula reads, down to the file and cell."""

from collections.abc import Sequence

import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.warehouse.tables import ADMITTED_ANSWERS, FINDINGS, KPI_VALUES, PROVENANCE, SUBMISSIONS
from pmm_pipeline.warehouse.writes import replace_cycle_rows_from_sql


def formula_refs(kpis: Sequence[KpiSpec], catalogue: Catalogue) -> pd.DataFrame:
    """One row per (KPI, series, item, year offset) a formula reads, with the formula's text."""
    rows = [
        {
            "kpi_id": kpi.id,
            "series": series.id,
            "formula": series.formula,
            "item": ref.item,
            "year_offset": ref.offset,
            "year_ref": "T" if ref.offset == 0 else f"T{ref.offset}",
        }
        for kpi in kpis
        for series in kpi.series
        for ref in catalogue.formulas[(kpi.id, series.id)].refs
    ]
    columns = ["kpi_id", "series", "formula", "item", "year_offset", "year_ref"]
    return pd.DataFrame(rows, columns=columns).astype({"year_offset": "int32"})


# The answers of a value are the admitted answers of the version the value was computed from; a
# flagged rule is a warning finding on that (item, year), as for kpi_values.flags (stages/kpis/compile.py).
PROVENANCE_SQL = f"""
SELECT
    v.cycle, v.reporting_year, v.member_code, v.kpi_id, v.series,
    v.value AS kpi_value, v.status AS kpi_status,
    r.formula, r.item, v.reporting_year + r.year_offset AS year, r.year_ref,
    a.value AS answer_value, a.value_text AS answer_value_text, coalesce(a.status, 'missing') AS answer_status,
    a.source_file, a.source_pointer, a.source_sheet, a.source_cell, a.source_line,
    v.submission_id, s.version AS submission_version, s.submitted_at, s.archive_path,
    coalesce(f.rules, '') AS rules_flagged,
    $run_id AS run_id, $code_version AS code_version,
    $catalogue_version AS catalogue_version, $catalogue_digest AS catalogue_digest
FROM {KPI_VALUES.qualified} AS v
JOIN _formula_refs AS r ON r.kpi_id = v.kpi_id AND r.series = v.series
LEFT JOIN {ADMITTED_ANSWERS.qualified} AS a
    ON a.cycle = v.cycle AND a.member_code = v.member_code AND a.item = r.item
    AND a.year = v.reporting_year + r.year_offset AND a.submission_id = v.submission_id
LEFT JOIN {SUBMISSIONS.qualified} AS s ON s.cycle = v.cycle AND s.submission_id = v.submission_id
LEFT JOIN (
    SELECT member_code, item, year, string_agg(DISTINCT rule, ';' ORDER BY rule) AS rules
    FROM {FINDINGS.qualified}
    WHERE cycle = $cycle AND severity = 'warning'
    GROUP BY ALL
) AS f ON f.member_code = v.member_code AND f.item = r.item AND f.year = v.reporting_year + r.year_offset
WHERE v.cycle = $cycle
ORDER BY v.kpi_id, v.series, v.member_code, r.item, year
"""


def write_provenance(
    conn: duckdb.DuckDBPyConnection,
    cycle_id: str,
    refs: pd.DataFrame,
    run_id: str,
    code_version: str,
    catalogue_version: str,
    catalogue_digest: str,
) -> int:
    """Replace the cycle's rows of lineage.provenance from the warehouse's KPI values and answers."""
    params = {
        "cycle": cycle_id,
        "run_id": run_id,
        "code_version": code_version,
        "catalogue_version": catalogue_version,
        "catalogue_digest": catalogue_digest,
    }
    conn.register("_formula_refs", refs)
    try:
        columns = ", ".join(PROVENANCE.column_names)
        return replace_cycle_rows_from_sql(
            conn, PROVENANCE, cycle_id, f"SELECT {columns} FROM ({PROVENANCE_SQL})", params
        )
    finally:
        conn.unregister("_formula_refs")
