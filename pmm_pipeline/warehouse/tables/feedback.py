"""The feedback stage's table (schema feedback): the members' feedback reports written."""

from pmm_pipeline.warehouse.tables.declaration import C, Table

FEEDBACK_REPORTS = Table(
    "feedback",
    "member_reports",
    "One member's feedback report of a cycle (an Excel file in the member's language in"
    " published/<cycle>/feedback/<member>/), written for every member with a file on record: it opens with"
    " what became of the submission and, when it passed, its receipt.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("language", "VARCHAR", "language of the report (the member's questionnaire language)"),
        C("path", "VARCHAR", "path of the report"),
        C("n_problems", "INTEGER", "problems listed"),
        C("n_blocking", "INTEGER", "problems that kept a file or an answer out of the KPIs"),
        C("sha256", "VARCHAR", "SHA-256 of the report file"),
        C(
            "outcome",
            "VARCHAR",
            "the verdict: used, used_with_warnings, blocked (by the quality gate), rejected_only or not_used",
        ),
        C("version_used", "INTEGER", "the version the KPIs use; NULL when none is"),
        C("has_receipt", "BOOLEAN", "the submission passed: the report carries the receipt of the version in use"),
    ),
    row_key=("cycle", "member_code"),
)
