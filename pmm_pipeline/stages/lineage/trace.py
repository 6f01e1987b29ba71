"""`pmm trace`: how one published value was derived, from lineage.provenance, as plain text."""

import duckdb
import pandas as pd

from pmm_pipeline.stages.quality.rules import RULES
from pmm_pipeline.warehouse.tables import PROVENANCE


class TraceError(Exception):
    """Nothing to trace for the arguments given (no lineage, no value); one line for the user."""


def load_trace(conn: duckdb.DuckDBPyConnection, cycle_id: str, member_code: str, kpi_id: str) -> pd.DataFrame:
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [PROVENANCE.schema, PROVENANCE.name],
    ).fetchall()[0][0]
    if not exists:
        raise TraceError(f"no lineage in the warehouse yet: run the cycle first (pmm run --cycle {cycle_id})")
    rows = conn.execute(
        f"SELECT * FROM {PROVENANCE.qualified} WHERE cycle = ? AND member_code = ? AND kpi_id = ?"
        " ORDER BY series, year DESC, item",
        [cycle_id, member_code, kpi_id],
    ).df()
    if rows.empty:
        raise TraceError(f"no value of {kpi_id} for member {member_code} in cycle {cycle_id}")
    return rows


def _place(row: pd.Series) -> str:
    parts = [f"file {row.source_file}"]
    if _given(row.source_sheet):
        parts.append(f"sheet {row.source_sheet}, cell {row.source_cell}")
    if _given(row.source_line):
        parts.append(f"line {int(row.source_line)}")
    if _given(row.source_pointer):
        parts.append(f"JSON pointer {row.source_pointer}")
    return ", ".join(parts)


def _given(value: object) -> bool:
    return (
        value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NA and value != ""
    )


def _answer(row: pd.Series) -> str:
    if row.answer_status == "reported":
        shown = row.answer_value_text if _given(row.answer_value_text) else f"{row.answer_value:g}"
        return f"{shown} (reported)"
    return f"({row.answer_status})"


def render_trace(rows: pd.DataFrame, kpi_name: str = "") -> str:
    """The chain for one (cycle, member, KPI): formula, each answer with its place, rules, run and versions."""
    first = rows.iloc[0]
    title = f"{first.kpi_id}" + (f" ({kpi_name})" if kpi_name else "")
    lines = [f"{title}: member {first.member_code}, cycle {first.cycle}, reporting year T = {first.reporting_year}"]
    for series, answers in rows.groupby("series", sort=True):
        head = answers.iloc[0]
        value = repr(float(head.kpi_value)) if head.kpi_status == "reported" else "none"
        lines += [
            f"series {series}: value {value}, status {head.kpi_status}",
            f"  formula: {head.formula}",
            "  answers used:",
        ]
        for _, row in answers.iterrows():
            lines.append(f"    {row['item']}[{row.year_ref}] = year {row.year}: {_answer(row)}")
            if _given(row.source_file):
                lines.append(f"      from {_place(row)}")
            else:
                lines.append("      not answered in the submission")
            flagged = [r for r in str(row.rules_flagged or "").split(";") if r]
            if flagged:
                lines.append(
                    f"      quality: flagged by {', '.join(flagged)};"
                    f" passed the other {len(RULES) - len(flagged)} rules"
                )
            else:
                lines.append(f"      quality: passed all {len(RULES)} rules")
    lines += [
        f"submission: version {first.submission_version} submitted {first.submitted_at}, sha256 {first.submission_id}",
        f"  archived copy: {first.archive_path}",
        f"quality rules checked: {', '.join(r.id for r in RULES)}",
        f"run {first.run_id}, code version {first.code_version},"
        f" catalogue version {first.catalogue_version} (digest {first.catalogue_digest})",
    ]
    return "\n".join(lines)
