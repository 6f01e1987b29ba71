"""The warehouse's tables: one declaration per table (schema, columns, what one row is), used by every stage.

Asset keys equal `[schema, table]`; asset descriptions and column schemas shown in the Dagster UI
come from here, so the documentation cannot drift from the DDL.
"""

from dataclasses import dataclass

from pmm_pipeline.core.vocabulary import TIERS


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    row: str  # what one row is, shown as the asset description
    columns: tuple[Column, ...]
    # The columns that tell one row from another (with `cycle` first where the table is per cycle): declared
    # here once, for every stage that joins, sorts, compares or indexes the table's rows by them.
    # Every asset of a table with a row key checks, each time its step writes it, that no two rows of the cycle
    # share one (orchestration/key_checks.py). A table whose rows no columns tell apart says why instead.
    row_key: tuple[str, ...] = ()
    why_no_key: str = ""

    def __post_init__(self) -> None:
        unknown = [c for c in self.row_key if c not in self.column_names]
        if unknown:
            raise ValueError(f"{self.qualified}: row key column(s) {unknown} are not columns of the table")
        if self.row_key and self.why_no_key:
            raise ValueError(f"{self.qualified}: a table with a row key needs no reason to have none")

    @property
    def key_in_cycle(self) -> list[str]:
        """The row key within one cycle (a release, a tier's table): the row key without `cycle`."""
        return [c for c in self.row_key if c != "cycle"]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def key(self) -> list[str]:
        return [self.schema, self.name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def render_create(self) -> str:
        cols = ",\n  ".join(f"{c.name} {c.type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {cols}\n)"


def C(name: str, type_: str, description: str) -> Column:  # noqa: N802 - reads as a table literal
    return Column(name, type_, description)


SOURCE_COLUMNS = (
    C("source_file", "VARCHAR", "name of the file the answer came from"),
    C("source_pointer", "VARCHAR", "JSON pointer of the answer in a JSON file"),
    C("source_sheet", "VARCHAR", "sheet of the answer in an Excel questionnaire"),
    C("source_cell", "VARCHAR", "cell of the answer in an Excel questionnaire"),
    C("source_line", "INTEGER", "line of the answer in a CSV export"),
)
ANSWER_COLUMNS = (
    C("item", "VARCHAR", "questionnaire item code"),
    C("year", "INTEGER", "calendar year the answer describes (T or T-1)"),
    C("value", "DOUBLE", "the number answered (the level's score for level items); NULL unless reported"),
    C("value_text", "VARCHAR", "the level code for level and yes/no items"),
    C("status", "VARCHAR", "reported, not_applicable or not_available"),
    C("comment", "VARCHAR", "the member's comment or justification"),
)
# How a file came, on every raw record of a file: through the member platform (with the account that sent it) or
# copied into landing by hand. The published tables never carry them.
CHANNEL_COLUMNS = (
    C("channel", "VARCHAR", "landing (copied into the landing folder) or platform (sent through the member platform)"),
    C("account", "VARCHAR", "login of the platform account that sent the file; NULL for a file copied into landing"),
)

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
        C(
            "channel",
            "VARCHAR",
            "landing (copied into the landing folder) or platform (delivered by the member platform)",
        ),
        C(
            "account",
            "VARCHAR",
            "login of the platform account that sent the file; NULL for a file copied into landing",
        ),
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
        C(
            "channel",
            "VARCHAR",
            "landing (copied into the landing folder) or platform (delivered by the member platform)",
        ),
        C(
            "account",
            "VARCHAR",
            "login of the platform account that sent the file; NULL for a file copied into landing",
        ),
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
        C(
            "channel",
            "VARCHAR",
            "landing (copied into the landing folder) or platform (delivered by the member platform)",
        ),
        C(
            "account",
            "VARCHAR",
            "login of the platform account that sent the file; NULL for a file copied into landing",
        ),
    ),
    row_key=("cycle", "file_name", "sha256"),
)

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

KPI_VALUES = Table(
    "kpi",
    "kpi_values",
    "One KPI series value of a participating member admitted by the quality gate, computed from its answers by the"
    " KPI's formula, with its status and the disclosure the member chose.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("reporting_year", "INTEGER", "T, the year the data describe"),
        C("member_code", "VARCHAR", "member"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("series", "VARCHAR", "series id (total, import, export, ...)"),
        C("value", "DOUBLE", "the KPI value, unrounded; NULL unless status is reported"),
        C("status", "VARCHAR", "reported, not_applicable, missing or undefined (zero denominator)"),
        C("disclosure", "VARCHAR", "public, wco or secretariat"),
        C("flags", "VARCHAR", "ids of the warnings raised on the answers behind the value, ;-separated and sorted"),
        C("numerator", "DOUBLE", "numerator of a ratio KPI (for the pooled statistic)"),
        C("denominator", "DOUBLE", "denominator of a ratio KPI"),
        C("level_code", "VARCHAR", "the level answered, for categorical KPIs"),
        C("submission_id", "VARCHAR", "submission version the value was computed from"),
    ),
    row_key=("cycle", "member_code", "kpi_id", "series"),
)

ROLLUPS = Table(
    "rollup",
    "rollups",
    "One statistic row per cycle, KPI, series and member group (global, region, income group, landlocked,"
    " administration type) over the members' reported values, before any disclosure control.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("series", "VARCHAR", "series id; for categorical KPIs the level code"),
        C("group_type", "VARCHAR", "global, region, income_group, landlocked or admin_type"),
        C("group_code", "VARCHAR", "code of the group"),
        C("n_reporting", "INTEGER", "members of the group with a reported value (at that level, if categorical)"),
        C("n_participating", "INTEGER", "members of the group that participate in the cycle"),
        C("mean", "DOUBLE", "unweighted mean of member values (categorical: % of answering members at the level)"),
        C("median", "DOUBLE", "exact median of member values"),
        C("min", "DOUBLE", "smallest member value"),
        C("max", "DOUBLE", "largest member value"),
        C("pooled", "DOUBLE", "sum of numerators / sum of denominators (ratio KPIs only)"),
        C("suppressed", "BOOLEAN", "true when statistics are withheld"),
        C("suppression_reason", "VARCHAR", "why: `statistic:reason` entries, `;`-separated, e.g. `min:hidden_member`"),
    ),
    row_key=("cycle", "kpi_id", "series", "group_type", "group_code"),
)
WITHHELD = Table(
    "disclosure",
    "withheld",
    "One statistic of a rollup row withheld from one tier by disclosure control, with the rule that withheld it"
    " (statistics not listed are published in that tier); decided for all tiers together, since the readers of a"
    " tier also read the tiers below it.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("tier", "VARCHAR", "public, wco or secretariat"),
        C("kpi_id", "VARCHAR", "KPI id"),
        C("series", "VARCHAR", "series as in rollup.rollups (for categorical KPIs the level row)"),
        C("group_type", "VARCHAR", "global, region, income_group, landlocked or admin_type; member for a member value"),
        C("group_code", "VARCHAR", "code of the group (of the member, for a withheld member value)"),
        C(
            "statistic",
            "VARCHAR",
            "mean, median, min, max, pooled, level_counts (a categorical row's count, share),"
            " or value (a member's value left out of the tier's kpi_values)",
        ),
        C(
            "reason",
            "VARCHAR",
            "min_group_size, hidden_member, differencing, complementary or earlier_release"
            " (docs/auditors.md, Disclosure tiers)",
        ),
    ),
    row_key=("cycle", "tier", "kpi_id", "series", "group_type", "group_code", "statistic"),
)

COMPLETENESS = Table(
    "collection",
    "completeness",
    "One cycle and member group (all members, or one WCO region) with how complete and timely the collection"
    " is: members expected, received, received on time, used, and KPIs the members declared not applicable.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("group_type", "VARCHAR", "global or region"),
        C("group_code", "VARCHAR", "all, or the WCO region code"),
        C("members_expected", "INTEGER", "members in force for the cycle"),
        C("members_received", "INTEGER", "members with at least one accepted submission version (late ones included)"),
        C(
            "members_received_on_time",
            "INTEGER",
            "members with an accepted version first seen before the collection closed",
        ),
        C("members_participating", "INTEGER", "members whose submission the cycle uses (a version not frozen out)"),
        C("members_outstanding", "INTEGER", "members expected that sent no accepted submission"),
        C("versions_late", "INTEGER", "accepted versions first seen after the collection closed"),
        C("versions_frozen_out", "INTEGER", "late versions kept but not used (the cycle's inputs were frozen)"),
        C("members_opting_out", "INTEGER", "participating members that declared at least one KPI not applicable"),
        C("kpis_opted_out", "INTEGER", "(member, KPI) pairs declared not applicable (a series or more not_applicable)"),
        C("received_pct", "DOUBLE", "100 * members_received / members_expected"),
        C("received_on_time_pct", "DOUBLE", "100 * members_received_on_time / members_expected"),
    ),
    row_key=("cycle", "group_type", "group_code"),
)
QUESTIONNAIRES = Table(
    "collection",
    "questionnaires",
    "One Excel questionnaire written at the opening of a cycle for a member in force, in the member's language.",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("language", "VARCHAR", "language of the questionnaire (the member's: en, fr, es)"),
        C("path", "VARCHAR", "where it was written: published/<cycle>/questionnaires/<member>_<cycle>_<lang>.xlsx"),
        C("sha256", "VARCHAR", "SHA-256 of the file"),
        C("size_bytes", "BIGINT", "size of the file"),
    ),
    row_key=("cycle", "member_code"),
)
OUTSTANDING_MEMBERS = Table(
    "collection",
    "outstanding_members",
    "One member in force for the cycle that has not sent an accepted submission yet, as listed on a day of the"
    " collection window (the daily reminder list for the national contact points).",
    (
        C("cycle", "VARCHAR", "cycle id"),
        C("member_code", "VARCHAR", "member"),
        C("member_name", "VARCHAR", "member name in English"),
        C("region_code", "VARCHAR", "WCO region"),
        C("language", "VARCHAR", "questionnaire language (en, fr, es)"),
        C("has_rejected_files", "BOOLEAN", "a file named after the member was received but rejected"),
        C("listed_on", "DATE", "the day of the list (in the calendar's time zone)"),
        C("closes_on", "DATE", "the last day of the collection window (or of the reopening)"),
        C("days_left", "INTEGER", "days from listed_on to closes_on; negative once the window has closed"),
    ),
    row_key=("cycle", "member_code"),
)


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


def published_tables(tier: str) -> tuple[Table, Table, Table]:
    """The tier's copies of the contract's tables and its release log, in schema `publish_<tier>`."""
    schema = f"publish_{tier}"
    kpi_values = Table(
        schema,
        "kpi_values",
        f"One KPI series value of a member in a cycle as published to the {tier} tier (contract columns).",
        tuple(c for c in KPI_VALUES.columns if c.name in PUBLISHED_KPI_COLUMNS),
        row_key=KPI_VALUES.row_key,
    )
    rollups = Table(
        schema,
        "rollups",
        f"One group statistic row as published to the {tier} tier.",
        ROLLUPS.columns,
        row_key=ROLLUPS.row_key,
    )
    releases = Table(
        schema,
        "releases",
        f"One release of a cycle written to published/<cycle>/{tier}/ (the latest row is the one in place).",
        (
            C("cycle", "VARCHAR", "cycle id"),
            C("run_id", "VARCHAR", "Dagster run that wrote the release"),
            C("released_at", "TIMESTAMPTZ", "when the release was switched in"),
            C("path", "VARCHAR", "folder of the release"),
            C("manifest_sha256", "VARCHAR", "SHA-256 of manifest.json"),
            C("code_version", "VARCHAR", "code version that produced it"),
            C("catalogue_digest", "VARCHAR", "SHA-256 of the KPI spec files used"),
        ),
        # A run releases a tier's folder of a cycle once; a run that reuses the release logs none.
        row_key=("cycle", "run_id"),
    )
    return kpi_values, rollups, releases


PUBLISHED_KPI_COLUMNS = [
    "cycle",
    "reporting_year",
    "member_code",
    "kpi_id",
    "series",
    "value",
    "status",
    "disclosure",
    "flags",
]
PUBLISHED_ROLLUP_COLUMNS = ROLLUPS.column_names


def declared_tables() -> list[Table]:
    """Every table of the warehouse: the ones declared above, then each tier's published tables."""
    return [
        *(t for t in globals().values() if isinstance(t, Table)),
        *(t for tier in TIERS for t in published_tables(tier)),
    ]
