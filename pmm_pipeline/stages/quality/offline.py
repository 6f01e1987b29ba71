"""The quality gate on one member's file alone: what `pmm validate` and the member platform's verdict show.

The file's rows (the intake's own `intake_frames`) are written to a private in-memory DuckDB, staged by the
staging SQL and judged by the gate's `evaluate_quality`, as the pipeline does; the warehouse is never opened
(its single-writer lock must never make a person wait). Rules that compare a member with others or with its
own earlier cycles cannot be judged from one file: they are listed as not checked rather than guessed.
"""

import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.ingestion.raw_tables import RAW_TABLES, write_raw_tables
from pmm_pipeline.stages.quality.gate import evaluate_quality, load_gate_inputs
from pmm_pipeline.stages.staging.select import PARTICIPATION_SQL, STAGED_ANSWERS_SQL, membership_frame
from pmm_pipeline.warehouse.tables import FINDINGS, PARTICIPATION, STAGED_ANSWERS
from pmm_pipeline.warehouse.writes import create_tables, replace_cycle_rows_from_sql

# Rule id -> what it would need that one file does not have. `not_checked`: no finding of it is given;
# `file_only`: judged on the file's own figures only, the comparison with earlier cycles left out.
OFFLINE_LIMITS: dict[str, tuple[str, str]] = {
    "value_near_peer_median": ("not_checked", "peers"),
    "t_minus_1_matches_earlier_cycle": ("not_checked", "history"),
    "magnitude_consistent_with_history": ("file_only", "history"),
}


def gate_findings_of_file(
    frames: dict[str, pd.DataFrame], reference: Reference, catalogue: Catalogue, cycle: Cycle, *, fast: bool = True
) -> pd.DataFrame:
    """quality.findings rows of the rules judged on one file's raw rows: raw tables, staging and gate, in memory.

    `fast`: the per-answer expectations in pandas where proven equal to Great Expectations (test_quality_fast.py),
    ~0.5 s less per file; False runs them all through Great Expectations, as the pipeline's gate does.
    """
    with duckdb.connect() as conn:  # in memory: the only warehouse this touches is its own, gone afterwards
        create_tables(conn, list(RAW_TABLES.values()))
        write_raw_tables(conn, cycle.id, frames)
        conn.register("_members_in_force", membership_frame(reference, cycle))
        replace_cycle_rows_from_sql(conn, PARTICIPATION, cycle.id, PARTICIPATION_SQL, {"cycle": cycle.id})
        replace_cycle_rows_from_sql(conn, STAGED_ANSWERS, cycle.id, STAGED_ANSWERS_SQL, {"cycle": cycle.id})
        # No earlier cycle's admitted answers offline: the history rules have nothing to compare with.
        inputs = load_gate_inputs(conn, cycle.id, [])
    not_checked = frozenset(r for r, (kind, _) in OFFLINE_LIMITS.items() if kind == "not_checked")
    # The rules not checked offline are not run at all (their findings would be dropped just below).
    outcome = evaluate_quality(inputs, cycle, catalogue, fast=fast, skip_cross=not_checked)
    findings = outcome.findings
    judged = ~findings["rule"].isin(not_checked)
    return findings[judged].reset_index(drop=True)


def no_findings() -> pd.DataFrame:
    return pd.DataFrame(columns=FINDINGS.column_names)
