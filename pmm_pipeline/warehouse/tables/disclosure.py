"""Disclosure control and publication: the statistics withheld per tier (schema disclosure) and each tier's published
copies and release log (schema publish_<tier>)."""

from pmm_pipeline.warehouse.tables.declaration import C, Table
from pmm_pipeline.warehouse.tables.kpi_rollup import KPI_VALUES, ROLLUPS

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


def published_schema(tier: str) -> str:
    """The warehouse schema of a tier's published tables (and the first part of their asset keys)."""
    return f"publish_{tier}"


def published_tables(tier: str) -> tuple[Table, Table, Table]:
    """The tier's copies of the contract's tables and its release log, in its published_schema."""
    schema = published_schema(tier)
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
        # A run releases a tier's folder of a cycle once (a step retried in its run replaces its row:
        # warehouse/writes.py append_rows); a run that reuses the release logs none.
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
