"""The trace of one value as data: what `pmm trace --json` prints, documented by the JSON Schema generated from it.

The models are the schema: `trace.schema.json` beside this module is `trace_json_schema()` written out
(a test keeps the two equal), so the document auditors read and the output cannot drift apart. Every
model forbids extra fields, so a field added here without a description or a schema change fails the test.
Numbers are JSON numbers (Python writes the shortest text that reads back as the same double) and, for
answers, also `value_exact`: the same double in plain decimal notation, never an exponent or a rounding.
"""

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "pmm-trace"
FORMAT_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("trace.schema.json")

SeriesStatus = Literal["reported", "not_applicable", "missing", "undefined", "blocked"]
AnswerStatus = Literal["reported", "not_applicable", "not_available", "missing"]
ReasonKind = Literal["input_not_applicable", "input_not_reported", "zero_denominator", "not_finite", "member_blocked"]
TierState = Literal["published", "withheld", "not_computed", "not_released"]
WithheldBy = Literal["disclosure_choice", "disclosure_control"]
CountsIn = Literal["statistics", "level_share_base", "coverage"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Place(_Model):
    """Where an answer is in the file it came from (the fields that apply to the file's format are set)."""

    file: str = Field(description="name of the file the answer came from")
    pointer: str | None = Field(None, description="JSON pointer of the answer (JSON files)")
    sheet: str | None = Field(None, description="sheet of the answer (Excel questionnaires)")
    cell: str | None = Field(None, description="cell of the answer (Excel questionnaires)")
    line: int | None = Field(None, description="line of the answer, 1 = the header (CSV exports)")


class Finding(_Model):
    """One result of a quality rule on the member's submission (a row of quality.findings)."""

    rule: str = Field(description="id of the rule (docs/operators.md, Quality gate)")
    severity: Literal["blocking", "warning"] = Field(description="blocking keeps the member out of the KPIs")
    kpi_id: str | None = Field(description="the KPI the finding concerns, when the rule is about one KPI")
    item: str | None = Field(description="item of the answer the finding is on")
    year: int | None = Field(description="year of that answer")
    value: float | None = Field(description="the answer's value as stored, when it has one")
    message: str = Field(description="what is wrong and what to do, as sent to the national contact point")
    is_justified: bool | None = Field(description="the member commented on the answer")
    justification: str | None = Field(description="the member's comment on the answer")


class Input(_Model):
    """One answer a series' formula reads, exactly as received and stored."""

    ref: str = Field(description="how the formula names it, e.g. aeo_count[T-1]")
    item: str = Field(description="questionnaire item code")
    year: int = Field(description="calendar year of the answer")
    year_ref: str = Field(description="T or T-1")
    status: AnswerStatus = Field(description="reported, not_applicable, not_available, or missing (no answer)")
    value: float | None = Field(description="the stored double (the level's score for level items)")
    value_exact: str | None = Field(
        description="the same double in plain decimal notation, every digit: 305028581, 0.1, 0.0000001"
    )
    as_written: str | None = Field(
        description="the value's text at its place in the archived file, read back: the JSON token (1e-6), the"
        " CSV cell (1 198 295 777, 0,1), the Excel cell; null when not reported or the copy is not intact"
    )
    level: str | None = Field(description="the level code answered, for level and yes/no items")
    comment: str | None = Field(description="the member's comment or justification on the answer")
    place: Place | None = Field(description="where it is in the file; null when the item was not answered")
    submission_id: str | None = Field(description="SHA-256 of the file it came from")
    submission_version: int | None = Field(description="version of the member's submission it came from")
    findings: list[Finding] = Field(description="quality rule findings on this answer")


class Reason(_Model):
    """Why a series carries no number."""

    kind: ReasonKind = Field(description="what kept the number out")
    message: str = Field(description="the same in words")
    inputs: list[str] = Field(description="the formula's references concerned, e.g. aeo_count[T-1]")
    denominator: str | None = Field(None, description="for zero_denominator: the denominator that is 0")
    findings: list[Finding] = Field(default_factory=list, description="for member_blocked: the blocking findings")


class RuleResult(_Model):
    """One quality rule and what it found on the series' inputs (or on the KPI itself)."""

    rule: str = Field(description="id of the rule")
    severity: Literal["blocking", "warning"] = Field(description="the rule's default severity")
    engine: str = Field(description="great_expectations (per answer) or duckdb (across submissions)")
    result: Literal["no_finding", "finding"] = Field(description="whether it found anything on these inputs")
    findings: int = Field(description="findings of the rule on these inputs or this KPI")


class PublishedFile(_Model):
    """A published file holding a row, and where the row is in it."""

    path: str = Field(description="path relative to the data folder, e.g. published/2023/public/kpi_values.csv")
    row: int | None = Field(description="CSV: line number (1 = header); Parquet: row index from 0; null if absent")
    value_matches: bool | None = Field(description="the file's value (and status) equal the warehouse's")


class TierPublication(_Model):
    """Whether the value is in a tier's kpi_values, and where, or why not."""

    tier: str = Field(description="public, wco or secretariat")
    state: TierState = Field(description="published, withheld, not_computed (blocked member) or not_released")
    withheld_by: WithheldBy | None = Field(
        description="disclosure_choice (the member's choice for the KPI) or disclosure_control"
    )
    reason: str | None = Field(description="the disclosure control rule (disclosure.withheld.reason) or choice")
    message: str = Field(description="the same in words")
    row_key: dict[str, str] = Field(description="the row's key in kpi_values: cycle, member_code, kpi_id, series")
    files: list[PublishedFile] = Field(description="the tier's kpi_values files holding the row")


class RollupTier(_Model):
    """One rollup row as published in one tier."""

    tier: str = Field(description="public, wco or secretariat")
    released: bool = Field(description="the tier's release of the cycle is in place")
    published: list[str] = Field(description="statistics shown in the tier (mean, median, min, max, pooled)")
    suppressed: dict[str, str] = Field(description="statistic -> reason it is withheld in the tier")
    file: str = Field(description="the tier's rollups file (CSV), path relative to the data folder")


class RollupFeed(_Model):
    """A group statistic row the value feeds."""

    series: str = Field(description="the rollup row's series (for categorical KPIs the level row)")
    group_type: str = Field(description="global, region, income_group, landlocked or admin_type")
    group_code: str = Field(description="code of the group")
    counts_in: CountsIn = Field(
        description="statistics (a reported value), level_share_base (reported at another level, counts in the"
        " share's base) or coverage (counts in n_participating only)"
    )
    n_reporting: int | None = Field(description="members of the group reporting (before disclosure control)")
    n_participating: int | None = Field(description="members of the group participating")
    tiers: list[RollupTier] = Field(description="what each tier shows of the row")


class Series(_Model):
    """One series of the KPI for the member: the value, how it came about, where it is published."""

    series: str = Field(description="series id (total, import, export, ...)")
    formula: str = Field(description="the series' formula in the catalogue")
    status: SeriesStatus = Field(description="as in kpi_values; blocked when the quality gate kept the member out")
    value: float | None = Field(description="the KPI value, unrounded; null unless reported")
    recomputed_value: float | None = Field(
        description="the formula evaluated again here on the inputs shown (equal to value when all is well)"
    )
    numerator: float | None = Field(description="numerator of a ratio KPI")
    denominator: float | None = Field(description="denominator of a ratio KPI")
    level_code: str | None = Field(description="the level, for categorical KPIs")
    disclosure: str | None = Field(description="the member's disclosure choice for the KPI")
    flags: list[str] = Field(description="warning rules on the inputs, as in kpi_values.flags")
    reason: Reason | None = Field(description="why there is no number; null when reported")
    inputs: list[Input] = Field(description="every answer the formula reads")
    rules: list[RuleResult] = Field(description="every quality rule and its result on these inputs")
    publication: list[TierPublication] = Field(description="per tier: where the value is published or why not")
    rollups: list[RollupFeed] = Field(description="the group statistics the value feeds")


class Submission(_Model):
    """The submission version the value was computed from (or, for a blocked member, that the gate refused)."""

    submission_id: str = Field(description="SHA-256 of the file (= the archived copy's name)")
    version: int | None = Field(description="1 for the member's first accepted version in the cycle, then 2, ...")
    file_name: str | None = Field(description="name of the file as received")
    format: str | None = Field(description="json, xlsx or csv")
    submitted_at: str | None = Field(description="submission time (ISO 8601, UTC)")
    received_at: str | None = Field(description="when the platform or the landing folder first had it (UTC)")
    archive_path: str | None = Field(description="path of the archived copy")
    archive_intact: bool | None = Field(description="the archived copy hashes to submission_id, checked by the trace")
    archive_state: str | None = Field(description="intact, archive_corrupt or archive_missing")
    sent_by: str | None = Field(description="contact person named in the file, if any")
    channel: str | None = Field(description="platform or landing: where the file was received, when recorded")
    account: str | None = Field(description="the platform account that sent it, when recorded")


class Gate(_Model):
    """The quality gate's outcome for the member's submission (quality.member_summary)."""

    is_admitted: bool = Field(description="no blocking finding: the answers feed the KPIs")
    rules_run: int | None = Field(description="rules that had something of the submission to check")
    blocking_failed: int = Field(description="blocking findings")
    warnings: int = Field(description="warning findings")
    blocking_findings: list[Finding] = Field(description="every blocking finding (why a member is kept out)")


class Run(_Model):
    """What computed the lineage: the run and the versions of code and catalogue."""

    run_id: str | None = Field(description="Dagster run that wrote the lineage and the KPI values")
    code_version: str | None = Field(description="package version and git commit")
    catalogue_version: str | None = Field(description="catalogue version of the cycle")
    catalogue_digest: str | None = Field(description="SHA-256 over the KPI spec files")


class RuleInfo(_Model):
    rule: str = Field(description="id of the rule")
    severity: Literal["blocking", "warning"] = Field(description="default severity")
    engine: str = Field(description="great_expectations or duckdb")
    holds_when: str = Field(description="what the rule checks")


class AuditEntry(_Model):
    """One entry of the member platform's audit trail about the submission's file (its SHA-256)."""

    what: str = Field(description="received, or the audit action (upload, upload_refused, download, ...)")
    at: str = Field(description="when (ISO 8601, UTC)")
    login: str | None = Field(description="the account")
    ip: str | None = Field(description="the address the request came from")
    detail: dict[str, str | int | float | bool | None] = Field(description="what the platform recorded with it")


class Trace(_Model):
    """How one KPI value of one member in one cycle was derived, and where it went."""

    format: Literal["pmm-trace"] = Field(description="always pmm-trace")
    format_version: Literal[1] = Field(description="1; a change that breaks readers raises it")
    cycle: str = Field(description="cycle id")
    reporting_year: int = Field(description="T, the year the data describe")
    member_code: str = Field(description="member")
    member_name: str | None = Field(description="member name in English")
    kpi_id: str = Field(description="KPI id")
    kpi_name: str = Field(description="KPI name in English")
    member_state: Literal["admitted", "blocked"] = Field(description="the quality gate's outcome for the member")
    submission: Submission = Field(description="the submission version used")
    gate: Gate = Field(description="the quality gate's outcome")
    series: list[Series] = Field(description="one entry per series of the KPI")
    rules_checked: list[RuleInfo] = Field(description="every rule of the quality gate")
    run: Run = Field(description="run, code and catalogue versions")
    platform_audit: list[AuditEntry] = Field(
        default_factory=list,
        description="the member platform's audit trail for the submission's file: who sent it, when, from where"
        " (empty when the file did not come through the platform, or no platform database is there)",
    )

    def to_json(self) -> str:
        """The trace as JSON; floats keep Python's shortest round-trip form (a double reads back bit for bit)."""
        return json.dumps(self.model_dump(mode="python"), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def trace_json_schema() -> dict:
    schema = Trace.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    return json.dumps(trace_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
