"""The intake's tables (schema raw): every file received, accepted submission versions and their answers, rejections."""

from pmm_pipeline.warehouse.tables.declaration import C, Table
from pmm_pipeline.warehouse.tables.shared_columns import ANSWER_COLUMNS, CHANNEL_COLUMNS, SOURCE_COLUMNS

RECEIVED_FILES = Table(
    "raw",
    "received_files",
    "One file version received for a cycle: a file name in landing/<cycle>/ and the SHA-256 of its bytes,"
    " with when it was first seen and where its immutable copy is archived.",
    (
        C("cycle", "VARCHAR", "cycle id of the landing folder"),
        C("sha256", "VARCHAR", "SHA-256 of the file's bytes"),
        C("file_name", "VARCHAR", "name of the file in the landing folder"),
        C("size_bytes", "BIGINT", "size of the file"),
        C(
            "received_at",
            "TIMESTAMPTZ",
            "when the pipeline first saw this file version (the platform's receipt time for a platform delivery)",
        ),
        C("archive_path", "VARCHAR", "path of the archived copy"),
        C(
            "outcome",
            "VARCHAR",
            "accepted, rejected, duplicate (same bytes as another file), or archive_corrupt / archive_missing (the"
            " archived copy of a version on record is altered or gone: kept on record, not used)",
        ),
        *CHANNEL_COLUMNS,
    ),
    row_key=("cycle", "file_name", "sha256"),
)
SUBMISSIONS = Table(
    "raw",
    "submissions",
    "One accepted submission version of a member for a cycle (every version is kept); `version` orders"
    " them by submitted_at, then received_at.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("submission_id", "VARCHAR", "SHA-256 of the file the version came from"),
        C("member_code", "VARCHAR", "member (ISO 3166-1 alpha-3, EUU for the EU)"),
        C(
            "submitted_at",
            "TIMESTAMPTZ",
            "submission time stated in the file; for a platform delivery, when the platform received it",
        ),
        C("received_at", "TIMESTAMPTZ", "when the file was first seen"),
        C("file_name", "VARCHAR", "name of the file"),
        C("format", "VARCHAR", "json, xlsx or csv"),
        C("archive_path", "VARCHAR", "path of the archived copy"),
        C("n_answers", "INTEGER", "answers in the version"),
        C("sent_by", "VARCHAR", "contact person named in the file (Excel questionnaire cover), if any"),
        C("version", "INTEGER", "1 for the first accepted version of the member in the cycle, then 2, ..."),
        C("is_latest", "BOOLEAN", "true for the version the KPIs use: the member's latest that is not frozen out"),
        C("is_late", "BOOLEAN", "first seen after the collection closed (end of collection.closes)"),
        C("is_frozen_out", "BOOLEAN", "first seen after the cycle's inputs were frozen: kept, never used"),
        C(
            "archive_state",
            "VARCHAR",
            "intact, or archive_corrupt / archive_missing: the archived copy no longer hashes to submission_id or"
            " is gone; the version keeps its place and number but is never used, and if it would be the version"
            " in use the member has none until the copy is restored or the file sent again",
        ),
        *CHANNEL_COLUMNS,
    ),
    row_key=("cycle", "member_code", "version"),
)
RAW_ANSWERS = Table(
    "raw",
    "answers",
    "One answer (member, item, year) of one accepted submission version, with the place in the file it came from.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("submission_id", "VARCHAR", "SHA-256 of the submission file"),
        C("member_code", "VARCHAR", "member"),
        *ANSWER_COLUMNS,
        *SOURCE_COLUMNS,
    ),
    row_key=("cycle", "submission_id", "item", "year"),
)
RAW_DISCLOSURE = Table(
    "raw",
    "disclosure_choices",
    "One disclosure choice stated in one accepted submission version (KPI id and tier).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("submission_id", "VARCHAR", "SHA-256 of the submission file"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("disclosure", "VARCHAR", "public, wco or secretariat"),
    ),
    row_key=("cycle", "submission_id", "kpi_id"),
)
REJECTIONS = Table(
    "raw",
    "rejections",
    "One rejected file of a cycle (or exact duplicate of an earlier file) with its machine-readable reason and the"
    " path of its quarantined copy.",
    (
        C("cycle", "VARCHAR", "cycle id of the landing folder"),
        C("sha256", "VARCHAR", "SHA-256 of the file"),
        C("file_name", "VARCHAR", "name of the file"),
        C("received_at", "TIMESTAMPTZ", "when the file was first seen"),
        C("reason_code", "VARCHAR", "code of the first problem, e.g. not_json, unknown_item"),
        C("message", "VARCHAR", "every problem found, in words"),
        C(
            "problems",
            "VARCHAR",
            "every problem as JSON (code, message, location, sheet, cell, line, item, year, value)",
        ),
        C(
            "quarantine_path",
            "VARCHAR",
            "path of the quarantined copy; its .reason.json is beside it (none for an exact duplicate: its bytes"
            " are the original's)",
        ),
        C("member_code", "VARCHAR", "member the file is from, when its content (or else its name) says; else NULL"),
        *CHANNEL_COLUMNS,
    ),
    row_key=("cycle", "file_name", "sha256"),
)
