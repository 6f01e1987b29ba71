"""The quality gate's tables (schema quality): findings, the answers admitted, each member's outcome."""

from pmm_pipeline.warehouse.tables.declaration import C, Table
from pmm_pipeline.warehouse.tables.shared_columns import SOURCE_COLUMNS
from pmm_pipeline.warehouse.tables.staging import STAGED_ANSWERS

FINDINGS = Table(
    "quality",
    "findings",
    "One rule violation found on an answer (or a pair of answers, or a missing answer) of a member's latest"
    " submission version in a cycle, with its severity, a message for the national contact point, the member's"
    " justification if any, and the place of the answer in the file.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("submission_id", "VARCHAR", "SHA-256 of the submission file (the member's latest accepted version)"),
        C(
            "rule",
            "VARCHAR",
            "id of the rule violated, e.g. part_not_above_whole (see docs/operators.md, Quality gate)",
        ),
        C("severity", "VARCHAR", "blocking (the member's submission is kept out of the KPIs) or warning"),
        C("kpi_id", "VARCHAR", "the KPI the finding concerns, when the rule is about one KPI"),
        C("item", "VARCHAR", "questionnaire item of the answer"),
        C("year", "INTEGER", "year of the answer"),
        C("value", "DOUBLE", "value of the answer (item, year) as submitted; NULL when missing or not reported"),
        C("message", "VARCHAR", "what is wrong and what to do, in plain words for the national contact point"),
        C("is_justified", "BOOLEAN", "the member commented on the flagged answer"),
        C("justification", "VARCHAR", "the member's comment on the flagged answer"),
        *SOURCE_COLUMNS,
    ),
    why_no_key="a row is one failed check of a rule, and the check is no column: the rule values_match_item_type"
    " can fail twice on one answer (a level answer reported with neither value nor level), and duplicate_answer"
    " flags every copy of an answer given twice, from the same file",
)
ADMITTED_ANSWERS = Table(
    "quality",
    "admitted_answers",
    "One staged answer (member, item, year) of a member whose latest submission passed every blocking rule of"
    " the quality gate: what the KPIs of the cycle are computed from (staged, checked, then admitted).",
    STAGED_ANSWERS.columns,
    row_key=STAGED_ANSWERS.row_key,
)
MEMBER_SUMMARY = Table(
    "quality",
    "member_summary",
    "One participating member of a cycle with the outcome of the quality gate on its latest submission.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("submission_id", "VARCHAR", "the submission version checked"),
        C("rules_run", "INTEGER", "rules that had something of this member's submission to check"),
        C("blocking_failed", "INTEGER", "findings of blocking severity"),
        C("warnings", "INTEGER", "findings of warning severity"),
        C("justified", "INTEGER", "warnings on an answer the member commented on"),
        C("is_admitted", "BOOLEAN", "no blocking finding: the answers are admitted to the KPIs"),
    ),
    row_key=("cycle", "member_code"),
)
