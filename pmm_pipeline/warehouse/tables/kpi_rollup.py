"""The KPI stage's tables: member values (schema kpi) and group statistics over them (schema rollup)."""

from pmm_pipeline.warehouse.tables.declaration import C, Table

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
