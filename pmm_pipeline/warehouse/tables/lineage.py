"""The lineage table (schema lineage): every KPI value with each answer it uses, down to the file and the run."""

from pmm_pipeline.warehouse.tables.declaration import C, Table
from pmm_pipeline.warehouse.tables.shared_columns import SOURCE_COLUMNS

PROVENANCE = Table(
    "lineage",
    "provenance",
    "One KPI series value of a member in a cycle (kpi.kpi_values) x one answer its formula uses: the answer, the"
    " place in the file it came from, the submission version and archived file, the quality rules that flagged it,"
    " and the run, code and catalogue that computed it (what `pmm trace` prints).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("reporting_year", "INTEGER", "T, the year the data describe"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("series", "VARCHAR", "series id"),
        C("kpi_value", "DOUBLE", "the KPI value as in kpi.kpi_values (NULL unless reported)"),
        C("kpi_status", "VARCHAR", "reported, not_applicable, missing or undefined"),
        C("formula", "VARCHAR", "the series' formula in the catalogue"),
        C("item", "VARCHAR", "questionnaire item the formula uses"),
        C("year", "INTEGER", "year of the answer used (T or T-1)"),
        C("year_ref", "VARCHAR", "how the formula names the year: T or T-1"),
        C("answer_value", "DOUBLE", "the value answered; NULL when not reported or absent"),
        C("answer_value_text", "VARCHAR", "the level code for level and yes/no items"),
        C("answer_status", "VARCHAR", "reported, not_applicable, not_available, or missing (no answer)"),
        *SOURCE_COLUMNS,
        C("submission_id", "VARCHAR", "SHA-256 of the submission file (= its archived copy's name)"),
        C("submission_version", "INTEGER", "version number of the member's submission in the cycle"),
        C(
            "submitted_at",
            "TIMESTAMPTZ",
            "submission time stated in the file; for a platform delivery, when the platform received it",
        ),
        C("archive_path", "VARCHAR", "path of the archived copy of the file"),
        C("rules_flagged", "VARCHAR", "ids of the quality rules with a finding on this answer or KPI, ;-separated"),
        C("run_id", "VARCHAR", "Dagster run that wrote this lineage (and the KPI values of the same cycle run)"),
        C("code_version", "VARCHAR", "package version and git commit"),
        C("catalogue_version", "VARCHAR", "catalogue version of the cycle (cycles.yaml)"),
        C("catalogue_digest", "VARCHAR", "SHA-256 over the KPI spec files"),
    ),
    row_key=("cycle", "member_code", "kpi_id", "series", "item", "year"),
)
