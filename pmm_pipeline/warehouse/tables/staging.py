"""The staging tables (schema staging): the answers in use, participation, disclosure choices, submission history."""

from pmm_pipeline.warehouse.tables.declaration import C, Table
from pmm_pipeline.warehouse.tables.shared_columns import ANSWER_COLUMNS, SOURCE_COLUMNS

STAGED_ANSWERS = Table(
    "staging",
    "answers",
    "One answer (member, item, year) of the latest accepted submission version of each member: what the"
    " KPIs of the cycle are computed from.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        *ANSWER_COLUMNS,
        C("submission_id", "VARCHAR", "SHA-256 of the submission file"),
        C("version", "INTEGER", "version number of the submission"),
        *SOURCE_COLUMNS,
    ),
    row_key=("cycle", "member_code", "item", "year"),
)
PARTICIPATION = Table(
    "staging",
    "participation",
    "One member in force for the cycle with its groups (as of the cycle's membership date) and whether"
    " it participates (has an accepted submission).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("member_name", "VARCHAR", "member name in English"),
        C("region_code", "VARCHAR", "WCO region"),
        C("income_group", "VARCHAR", "income group"),
        C("landlocked", "VARCHAR", "landlocked or not_landlocked"),
        C("admin_type", "VARCHAR", "type of administration"),
        C("language", "VARCHAR", "questionnaire language (en, fr, es)"),
        C("is_participating", "BOOLEAN", "has an accepted submission in the cycle"),
        C("submission_id", "VARCHAR", "latest accepted submission version, if any"),
        C("version", "INTEGER", "its version number"),
        C("submitted_at", "TIMESTAMPTZ", "its submission time"),
    ),
    row_key=("cycle", "member_code"),
)
DISCLOSURE = Table(
    "staging",
    "disclosure",
    "One (participating member, KPI of the cycle) with the tier the member allows its value in;"
    " a KPI the member left out is `secretariat`.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("disclosure", "VARCHAR", "public, wco or secretariat"),
    ),
    row_key=("cycle", "member_code", "kpi_id"),
)

SUBMISSION_HISTORY = Table(
    "staging",
    "submission_history",
    "One file version received for a cycle, with who sent it and when, what became of it (accepted as version n,"
    " rejected with a reason, or an exact duplicate) and how many answers changed from the member's previous version.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member the file is from (from its content, else its name); NULL if unknown"),
        C("received_at", "TIMESTAMPTZ", "when the file was first seen"),
        C("file_name", "VARCHAR", "name of the file in the landing folder"),
        C("sha256", "VARCHAR", "SHA-256 of the file (the submission_id when accepted)"),
        C("format", "VARCHAR", "json, xlsx or csv, when accepted"),
        C("submitted_at", "TIMESTAMPTZ", "submission time stated in the file, when accepted"),
        C("sent_by", "VARCHAR", "contact person named in the file, if any"),
        C("outcome", "VARCHAR", "accepted, rejected or duplicate"),
        C("reason_code", "VARCHAR", "why it was rejected (first problem), or duplicate_file"),
        C("version", "INTEGER", "version number when accepted"),
        C("is_latest", "BOOLEAN", "the version the KPIs use"),
        C("n_answers", "INTEGER", "answers in the version"),
        C("n_changes", "INTEGER", "answers added, removed or changed from the member's previous version"),
    ),
    row_key=("cycle", "file_name", "sha256"),
)
SUBMISSION_CHANGES = Table(
    "staging",
    "submission_changes",
    "One answer (item, year) that differs between two consecutive accepted versions of a member's submission:"
    " added, removed, or changed in value or status.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("version", "INTEGER", "the later version"),
        C("previous_version", "INTEGER", "the version before it"),
        C("submission_id", "VARCHAR", "SHA-256 of the later version's file"),
        C("previous_submission_id", "VARCHAR", "SHA-256 of the earlier version's file"),
        C("item", "VARCHAR", "questionnaire item code"),
        C("year", "INTEGER", "year of the answer"),
        C("change", "VARCHAR", "added, removed or changed"),
        C("previous_status", "VARCHAR", "status in the earlier version (NULL when added)"),
        C("status", "VARCHAR", "status in the later version (NULL when removed)"),
        C("previous_value", "DOUBLE", "value in the earlier version"),
        C("value", "DOUBLE", "value in the later version"),
        C("previous_value_text", "VARCHAR", "level code in the earlier version"),
        C("value_text", "VARCHAR", "level code in the later version"),
        *SOURCE_COLUMNS,
    ),
    row_key=("cycle", "member_code", "version", "item", "year"),
)
