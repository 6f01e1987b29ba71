"""Dagster wiring of the quality gate: check a cycle's staged answers, admit the members without blocking findings,
and report every rule as an asset check on quality.admitted_answers.

Two kinds of check come out of it (orchestration/checks.py): one per rule, a data finding (what members' data
holds, a warning: the gate acted on it), and the gate's own guarantee that no member with a blocking finding
was admitted (an error when broken: KPIs would be computed on data the gate should have kept out).
"""

import dagster as dg
import pandas as pd

from pmm_pipeline.orchestration.checks import ADMISSION_CHECK, CHECKS
from pmm_pipeline.orchestration.metadata import bound_metadata
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import common_inputs, cycle_inputs, reusable
from pmm_pipeline.orchestration.table_assets import markdown_table, require_tables, table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
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
from pmm_pipeline.warehouse.digests import table_digest
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


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def findings_description(findings: int, flagged: int, blocked: int) -> str:
    """What a data-finding check says at a glance: what was recorded and what the gate did, never "failed"."""
    if not findings:
        return "no finding in members' data"
    return (
        f"{_plural(findings, 'finding', 'findings')} in members' data recorded"
        f" ({_plural(flagged, 'member', 'members')}); {_plural(blocked, 'member', 'members')} blocked"
    )


def _rule_effect(rule: Rule) -> str:
    if rule.is_blocking:
        return "a finding holds the member's answers back from the KPIs until it is fixed"
    return f"a finding is published as the flag `{rule.id}` on the values it feeds"


def rule_check_description(rule: Rule) -> str:
    """The rule check's own words under its kind's heading (orchestration/checks.py adds the heading)."""
    return f"Holds when {rule.holds_when}. By default, {_rule_effect(rule)} (a KPI may set its own severity)."


def build_rule_check_result(rule: Rule, outcome: GateOutcome) -> dg.AssetCheckResult:
    """The check named after the rule: the findings the gate recorded for it in members' data (a data finding)."""
    findings = outcome.findings
    own = findings[findings["rule"] == rule.id]
    blocking = own[own["severity"] == "blocking"]
    run = outcome.rule_runs[rule.id]
    metadata: dict[str, dg.MetadataValue] = {
        # The rule's effect on a member's answers, not the check's: a data finding never stops the run.
        "finding_effect_by_default": dg.MetadataValue.text(
            "member blocked" if rule.is_blocking else "value published with a flag"
        ),
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
    return dg.AssetCheckResult(
        check_name=rule.id,
        asset_key=ADMITTED_ANSWERS.key,
        passed=own.empty,
        severity=CHECKS[rule.id].severity,  # WARN: the step guard would set it too, the builder says it itself
        description=findings_description(len(own), own["member_code"].nunique(), blocking["member_code"].nunique()),
        # Messages and values come from members' answers: bounded and escaped like every metadata.
        metadata=bound_metadata(metadata),
    )


def build_admission_check_result(wrongly_admitted: dict[str, list[str]]) -> dg.AssetCheckResult:
    """The gate's own promise, read back from the tables it wrote: no member with a blocking finding admitted."""
    members = sorted({m for found in wrongly_admitted.values() for m in found})
    if not members:
        return dg.AssetCheckResult(
            check_name=ADMISSION_CHECK,
            asset_key=ADMITTED_ANSWERS.key,
            passed=True,
            description="every member with a blocking finding was kept out of quality.admitted_answers",
            metadata={"members_wrongly_admitted": dg.MetadataValue.json([])},
        )
    by_rule = "; ".join(f"{rule}: {', '.join(found)}" for rule, found in sorted(wrongly_admitted.items()))
    return dg.AssetCheckResult(
        check_name=ADMISSION_CHECK,
        asset_key=ADMITTED_ANSWERS.key,
        passed=False,
        severity=CHECKS[ADMISSION_CHECK].severity,
        description=f"the gate admitted {_plural(len(members), 'member', 'members')} with a blocking finding"
        f" ({by_rule}); the steps downstream of quality.admitted_answers did not run in this run",
        metadata={
            "members_wrongly_admitted": dg.MetadataValue.json(members[:LISTED_MEMBERS]),
            "by_rule": dg.MetadataValue.json(wrongly_admitted),
        },
    )


def build_quality_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    digest = catalogue_digest(catalogue)

    def gate_inputs(context: dg.AssetExecutionContext, conn, **_) -> dict[str, str]:
        cycle = reference.cycles.get(context.partition_key)
        earlier = earlier_cycles(reference.cycles, cycle)
        return (
            common_inputs()
            | cycle_inputs(cycle)
            | {
                "catalogue_digest": digest,
                # The members' history: what the gate admitted in the earlier cycles it compares with.
                f"table:{ADMITTED_ANSWERS.qualified}(earlier cycles)": table_digest(
                    conn(), ADMITTED_ANSWERS, earlier, absent_as_empty=True
                ),
            }
        )

    @dg.multi_asset(
        name="check_and_admit_answers",
        specs=[
            table_spec(FINDINGS, deps=[STAGED_ANSWERS.key, PARTICIPATION.key, SUBMISSIONS.key]),
            table_spec(MEMBER_SUMMARY, deps=[FINDINGS.key]),
            table_spec(ADMITTED_ANSWERS, deps=[STAGED_ANSWERS.key, MEMBER_SUMMARY.key]),
        ],
        check_specs=[
            *(
                dg.AssetCheckSpec(rule.id, asset=ADMITTED_ANSWERS.key, description=rule_check_description(rule))
                for rule in RULES
            ),
            dg.AssetCheckSpec(
                ADMISSION_CHECK,
                asset=ADMITTED_ANSWERS.key,
                description="No member with a blocking finding of this cycle is in quality.admitted_answers, as read"
                " back from the tables the gate wrote.",
            ),
        ],
        partitions_def=partitions,
        description="Checks the staged answers of the cycle against every quality rule (Great Expectations suites"
        " generated from the catalogue, and DuckDB rules across submissions, cycles and members), records the"
        " findings, and admits the members without a blocking finding; earlier cycles' admitted answers are the"
        " members' history.",
    )
    @reusable(gate_inputs)
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
            yield build_rule_check_result(rule, outcome)
        yield build_admission_check_result(wrongly_admitted)

    return [check_and_admit_answers]
