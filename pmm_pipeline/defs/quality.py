"""Dagster wiring of the quality gate: check a cycle's staged answers, admit the members without blocking findings,
and report every rule as an asset check on quality.admitted_answers."""

import dagster as dg
import pandas as pd

from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.metadata import bound_metadata
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.table_assets import markdown_table, require_tables, table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.quality.expectations import QualityGateError
from pmm_pipeline.stages.quality.gate import (
    GateOutcome,
    earlier_cycles,
    evaluate_quality,
    load_gate_inputs,
    members_wrongly_admitted,
    write_gate_outcome,
)
from pmm_pipeline.stages.quality.rules import RULES, Rule
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    FINDINGS,
    MEMBER_SUMMARY,
    PARTICIPATION,
    STAGED_ANSWERS,
    SUBMISSIONS,
)

PREVIEW_ROWS = 50
LISTED_MEMBERS = 500
PREVIEW_COLUMNS = ["member_code", "item", "year", "value", "rule", "severity", "kpi_id", "message"]


def _members(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["member_code"].unique().tolist())[:LISTED_MEMBERS]


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}


def build_rule_check_result(rule: Rule, outcome: GateOutcome, wrongly_admitted: list[str]) -> dg.AssetCheckResult:
    """The check named after the rule: passes when nothing of the cycle violates it."""
    findings = outcome.findings
    own = findings[findings["rule"] == rule.id]
    blocking = own[own["severity"] == "blocking"]
    run = outcome.rule_runs[rule.id]
    metadata: dict[str, dg.MetadataValue] = {
        "default_severity": dg.MetadataValue.text(rule.severity.value),
        "rule": dg.MetadataValue.text(rule.holds_when),
        "engine": dg.MetadataValue.text(rule.engine.value),
        "rows_checked": dg.MetadataValue.int(run.rows_checked),
        "members_checked": dg.MetadataValue.int(len(run.members_checked)),
        "failing_rows": dg.MetadataValue.int(len(own)),
        "members_flagged": dg.MetadataValue.json(_members(own)),
        "members_blocked": dg.MetadataValue.json(_members(blocking)),
        "justified": dg.MetadataValue.int(int(own["is_justified"].sum())),
        "findings_by_rule": dg.MetadataValue.json(_counts(findings["rule"])),
        "failing_rows_preview": dg.MetadataValue.md(markdown_table(own[PREVIEW_COLUMNS].head(PREVIEW_ROWS))),
    }
    if outcome.docs_index is not None:
        metadata["data_docs"] = dg.MetadataValue.path(str(outcome.docs_index))
    if wrongly_admitted:
        # The gate broke its own promise: bad data reached admitted_answers. An error, not a data finding.
        metadata["members_wrongly_admitted"] = dg.MetadataValue.json(wrongly_admitted)
        return dg.AssetCheckResult(
            check_name=rule.id,
            asset_key=ADMITTED_ANSWERS.key,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=bound_metadata(metadata),
            description=f"members with a blocking {rule.id} finding were admitted",
        )
    return dg.AssetCheckResult(
        check_name=rule.id,
        asset_key=ADMITTED_ANSWERS.key,
        passed=own.empty,
        # Findings are the data's, already acted on by the gate (blocked or flagged): a warning in the UI.
        severity=dg.AssetCheckSeverity.WARN,
        # Messages and values come from members' answers: bounded and escaped like every metadata.
        metadata=bound_metadata(metadata),
    )


def build_quality_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="check_and_admit_answers",
        specs=[
            table_spec(FINDINGS, deps=[STAGED_ANSWERS.key, PARTICIPATION.key, SUBMISSIONS.key]),
            table_spec(MEMBER_SUMMARY, deps=[FINDINGS.key]),
            table_spec(ADMITTED_ANSWERS, deps=[STAGED_ANSWERS.key, MEMBER_SUMMARY.key]),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                rule.id,
                asset=ADMITTED_ANSWERS.key,
                description=f"{rule.holds_when} ({rule.severity.value} by default)",
            )
            for rule in RULES
        ],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        description="Checks the staged answers of the cycle against every quality rule (Great Expectations suites"
        " generated from the catalogue, and DuckDB rules across submissions, cycles and members), records the"
        " findings, and admits the members without a blocking finding; earlier cycles' admitted answers are the"
        " members' history.",
    )
    def check_and_admit_answers(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse):
        cycle = reference.cycles.get(context.partition_key)
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle.id, [STAGED_ANSWERS, SUBMISSIONS], with_rows=[PARTICIPATION])
            inputs = load_gate_inputs(conn, cycle.id, earlier_cycles(reference.cycles, cycle))
        try:
            outcome = evaluate_quality(
                inputs, cycle, catalogue, storage.layout.quality_dir(cycle.id) / context.run_id, context.run_id
            )
        except QualityGateError as err:
            # Nothing is admitted on the word of a gate that could not judge: the step fails, KPIs keep
            # the last admitted answers, and a retry would meet the same error.
            raise dg.Failure(description=str(err), allow_retries=False) from err
        with warehouse.get_connection() as conn:
            write_gate_outcome(conn, cycle.id, outcome)
            wrongly_admitted = members_wrongly_admitted(conn, cycle.id)
            findings, summary = outcome.findings, outcome.member_summary
            extra = {
                FINDINGS: {
                    "findings_by_rule": dg.MetadataValue.json(_counts(findings["rule"])),
                    "findings_by_severity": dg.MetadataValue.json(_counts(findings["severity"])),
                    "seconds": dg.MetadataValue.json({k: round(v, 3) for k, v in outcome.seconds.items()}),
                },
                MEMBER_SUMMARY: {
                    "members_admitted": dg.MetadataValue.int(int(summary["is_admitted"].sum())),
                    "members_blocked": dg.MetadataValue.json(outcome.blocked_members[:LISTED_MEMBERS]),
                },
                ADMITTED_ANSWERS: {
                    "answers_held_back": dg.MetadataValue.int(len(inputs.answers) - len(outcome.admitted_answers)),
                },
            }
            for table in (FINDINGS, MEMBER_SUMMARY, ADMITTED_ANSWERS):
                metadata = written_table_metadata(conn, table, cycle.id) | extra[table]
                if outcome.docs_index is not None:
                    metadata["data_docs"] = dg.MetadataValue.path(str(outcome.docs_index))
                yield dg.MaterializeResult(asset_key=table.key, metadata=metadata)
        for rule in RULES:
            yield build_rule_check_result(rule, outcome, wrongly_admitted.get(rule.id, []))

    return [check_and_admit_answers]
