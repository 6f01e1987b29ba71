"""Column lineage of the warehouse tables: for each column, the upstream table columns it is computed from.

Shown in the Dagster UI as `dagster/column_lineage`, on each table asset's definition and on every
materialization (orchestration/table_assets.py). Upstream tables are always among the asset's deps.
A column missing from its table's entry has no upstream column: it comes from a file (every `raw`
table), the reference data or catalogue (member names, KPI ids), the cycle configuration, or the run.
"""

from collections.abc import Iterable

import dagster as dg

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    COMPLETENESS,
    DISCLOSURE,
    FEEDBACK_REPORTS,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    OUTSTANDING_MEMBERS,
    PARTICIPATION,
    PROVENANCE,
    RAW_ANSWERS,
    RAW_DISCLOSURE,
    RECEIVED_FILES,
    REJECTIONS,
    ROLLUPS,
    STAGED_ANSWERS,
    SUBMISSION_CHANGES,
    SUBMISSION_HISTORY,
    SUBMISSIONS,
    WITHHELD,
    Table,
    published_tables,
)

Lineage = dict[str, list[tuple[Table, str]]]  # column -> (upstream table, its column)
SOURCE_COLUMN_NAMES = ("source_file", "source_pointer", "source_sheet", "source_cell", "source_line")
STATISTICS = ("n_reporting", "mean", "median", "min", "max", "pooled", "suppressed", "suppression_reason")


def of(table: Table, *columns: str) -> list[tuple[Table, str]]:
    return [(table, c) for c in columns]


def same(table: Table, columns: Iterable[str] | None = None) -> Lineage:
    """Each column is the same-named column of `table` (all of them by default)."""
    return {c: of(table, c) for c in (table.column_names if columns is None else columns)}


def _published(tier: str) -> dict[str, Lineage]:
    kpi_table, rollup_table, releases = published_tables(tier)
    rollups = same(ROLLUPS)
    for column in STATISTICS:  # withheld statistics are blanked, and say why
        rollups[column] = rollups[column] + of(WITHHELD, "statistic", "reason")
    content = of(kpi_table, *kpi_table.column_names) + of(rollup_table, *rollup_table.column_names)
    return {
        kpi_table.qualified: same(KPI_VALUES, kpi_table.column_names),
        rollup_table.qualified: rollups,
        releases.qualified: {"cycle": of(kpi_table, "cycle"), "manifest_sha256": content},
    }


COLUMN_LINEAGE: dict[str, Lineage] = {
    SUBMISSION_CHANGES.qualified: {
        **same(RAW_ANSWERS, ["cycle", "item", "year", *SOURCE_COLUMN_NAMES]),
        "member_code": of(SUBMISSIONS, "member_code"),
        "version": of(SUBMISSIONS, "version"),
        "previous_version": of(SUBMISSIONS, "version"),
        "submission_id": of(SUBMISSIONS, "submission_id"),
        "previous_submission_id": of(SUBMISSIONS, "submission_id"),
        "change": of(RAW_ANSWERS, "status", "value", "value_text"),
        "previous_status": of(RAW_ANSWERS, "status"),
        "status": of(RAW_ANSWERS, "status"),
        "previous_value": of(RAW_ANSWERS, "value"),
        "value": of(RAW_ANSWERS, "value"),
        "previous_value_text": of(RAW_ANSWERS, "value_text"),
        "value_text": of(RAW_ANSWERS, "value_text"),
    },
    SUBMISSION_HISTORY.qualified: {
        **{c: of(RECEIVED_FILES, c) + of(REJECTIONS, c) for c in ("cycle", "received_at", "file_name", "sha256")},
        "outcome": of(RECEIVED_FILES, "outcome"),
        "member_code": of(SUBMISSIONS, "member_code") + of(REJECTIONS, "member_code"),
        **same(SUBMISSIONS, ["format", "submitted_at", "sent_by", "version", "is_latest", "n_answers"]),
        "reason_code": of(REJECTIONS, "reason_code"),
        "n_changes": of(SUBMISSION_CHANGES, "submission_id"),
    },
    PARTICIPATION.qualified: {
        "is_participating": of(SUBMISSIONS, "submission_id", "is_latest"),
        **same(SUBMISSIONS, ["submission_id", "version", "submitted_at"]),
    },
    STAGED_ANSWERS.qualified: {
        **same(RAW_ANSWERS, [c for c in STAGED_ANSWERS.column_names if c != "version"]),
        "version": of(SUBMISSIONS, "version"),
    },
    DISCLOSURE.qualified: {
        **same(PARTICIPATION, ["cycle", "member_code"]),
        "disclosure": of(RAW_DISCLOSURE, "disclosure"),
    },
    FINDINGS.qualified: {
        **same(
            STAGED_ANSWERS, ["cycle", "member_code", "submission_id", "item", "year", "value", *SOURCE_COLUMN_NAMES]
        ),
        **{c: of(STAGED_ANSWERS, "value", "value_text", "status") for c in ("rule", "severity", "message")},
        "is_justified": of(STAGED_ANSWERS, "comment"),
        "justification": of(STAGED_ANSWERS, "comment"),
    },
    MEMBER_SUMMARY.qualified: {
        **same(FINDINGS, ["cycle", "member_code", "submission_id"]),
        "blocking_failed": of(FINDINGS, "severity"),
        "warnings": of(FINDINGS, "severity"),
        "justified": of(FINDINGS, "is_justified"),
        "is_admitted": of(FINDINGS, "severity"),
    },
    ADMITTED_ANSWERS.qualified: {
        **same(STAGED_ANSWERS),
        "member_code": of(STAGED_ANSWERS, "member_code") + of(MEMBER_SUMMARY, "is_admitted"),
    },
    KPI_VALUES.qualified: {
        "member_code": of(PARTICIPATION, "member_code", "is_participating") + of(MEMBER_SUMMARY, "is_admitted"),
        "value": of(ADMITTED_ANSWERS, "value", "status"),
        "status": of(ADMITTED_ANSWERS, "value", "status"),
        "numerator": of(ADMITTED_ANSWERS, "value", "status"),
        "denominator": of(ADMITTED_ANSWERS, "value", "status"),
        "level_code": of(ADMITTED_ANSWERS, "value_text"),
        "submission_id": of(PARTICIPATION, "submission_id"),
        "disclosure": of(DISCLOSURE, "disclosure"),
        "flags": of(FINDINGS, "rule", "severity"),
    },
    PROVENANCE.qualified: {
        **same(KPI_VALUES, ["cycle", "reporting_year", "member_code", "kpi_id", "series", "submission_id"]),
        "kpi_value": of(KPI_VALUES, "value"),
        "kpi_status": of(KPI_VALUES, "status"),
        "year": of(KPI_VALUES, "reporting_year"),
        "answer_value": of(ADMITTED_ANSWERS, "value"),
        "answer_value_text": of(ADMITTED_ANSWERS, "value_text"),
        "answer_status": of(ADMITTED_ANSWERS, "status"),
        **same(ADMITTED_ANSWERS, SOURCE_COLUMN_NAMES),
        "submission_version": of(SUBMISSIONS, "version"),
        "submitted_at": of(SUBMISSIONS, "submitted_at"),
        "archive_path": of(SUBMISSIONS, "archive_path"),
        "rules_flagged": of(FINDINGS, "rule"),
    },
    ROLLUPS.qualified: {
        **same(KPI_VALUES, ["cycle", "kpi_id"]),
        "series": of(KPI_VALUES, "series", "level_code"),
        "group_code": of(PARTICIPATION, "region_code", "income_group", "landlocked", "admin_type"),
        "n_reporting": of(KPI_VALUES, "member_code", "status", "level_code"),
        "n_participating": of(PARTICIPATION, "member_code", "is_participating"),
        **{c: of(KPI_VALUES, "value") for c in ("mean", "median", "min", "max")},
        "pooled": of(KPI_VALUES, "numerator", "denominator"),
    },
    WITHHELD.qualified: {
        **same(ROLLUPS, list(ROLLUPS.row_key)),
        "statistic": of(ROLLUPS, "n_reporting", "mean", "median", "min", "max", "pooled")
        + of(KPI_VALUES, "value", "disclosure"),
        "reason": of(ROLLUPS, "n_reporting", "mean", "median", "min", "max", "pooled")
        + of(KPI_VALUES, "value", "disclosure"),
    },
    COMPLETENESS.qualified: {
        "cycle": of(PARTICIPATION, "cycle"),
        "group_code": of(PARTICIPATION, "region_code"),
        "members_expected": of(PARTICIPATION, "member_code"),
        "members_received": of(SUBMISSIONS, "member_code"),
        "members_received_on_time": of(SUBMISSIONS, "member_code", "is_late"),
        "members_participating": of(PARTICIPATION, "is_participating"),
        "members_outstanding": of(PARTICIPATION, "member_code") + of(SUBMISSIONS, "member_code"),
        "versions_late": of(SUBMISSIONS, "is_late"),
        "versions_frozen_out": of(SUBMISSIONS, "is_frozen_out"),
        "members_opting_out": of(KPI_VALUES, "member_code", "status"),
        "kpis_opted_out": of(KPI_VALUES, "kpi_id", "status"),
        "received_pct": of(PARTICIPATION, "member_code") + of(SUBMISSIONS, "member_code"),
        "received_on_time_pct": of(PARTICIPATION, "member_code") + of(SUBMISSIONS, "member_code", "is_late"),
    },
    OUTSTANDING_MEMBERS.qualified: {
        **same(PARTICIPATION, ["cycle", "member_name", "region_code", "language"]),
        "member_code": of(PARTICIPATION, "member_code") + of(SUBMISSIONS, "member_code"),
        "has_rejected_files": of(REJECTIONS, "file_name"),
    },
    FEEDBACK_REPORTS.qualified: {
        "cycle": of(REJECTIONS, "cycle") + of(FINDINGS, "cycle"),
        "member_code": of(REJECTIONS, "member_code") + of(FINDINGS, "member_code"),
        "n_problems": of(REJECTIONS, "reason_code") + of(FINDINGS, "rule"),
        "n_blocking": of(REJECTIONS, "reason_code") + of(FINDINGS, "severity"),
    },
    **{name: lineage for tier in TIERS for name, lineage in _published(tier).items()},
}


def build_column_lineage(lineage: Lineage) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(
        deps_by_column={
            column: [dg.TableColumnDep(asset_key=dg.AssetKey(t.key), column_name=c) for t, c in deps]
            for column, deps in lineage.items()
        }
    )


def column_lineage_of(table: Table) -> dg.TableColumnLineage:
    """The table's declared lineage; empty for tables made from files, reference data or the run alone."""
    return build_column_lineage(COLUMN_LINEAGE.get(table.qualified, {}))
