"""The warehouse's tables: one declaration per table (schema, columns, what one row is), used by every stage.

Asset keys equal `[schema, table]`; asset descriptions and column schemas shown in the Dagster UI
come from here, so the documentation cannot drift from the DDL. The declarations live in this package's
modules by data-flow stage (raw, staging, quality, feedback, kpi_rollup, disclosure with each tier's published
tables, collection, lineage), beside the Table dataclass (declaration.py) and the column groups several tables
share (shared_columns.py); every one is re-exported here, so a stage writes
`from pmm_pipeline.warehouse.tables import X`, and `declared_tables()` lists every table, the tiers' included.
"""

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.warehouse.tables.collection import COMPLETENESS, OUTSTANDING_MEMBERS, QUESTIONNAIRES
from pmm_pipeline.warehouse.tables.declaration import C, Column, Table
from pmm_pipeline.warehouse.tables.disclosure import (
    PUBLISHED_KPI_COLUMNS,
    PUBLISHED_ROLLUP_COLUMNS,
    WITHHELD,
    published_schema,
    published_tables,
)
from pmm_pipeline.warehouse.tables.feedback import FEEDBACK_REPORTS
from pmm_pipeline.warehouse.tables.kpi_rollup import KPI_VALUES, ROLLUPS
from pmm_pipeline.warehouse.tables.lineage import PROVENANCE
from pmm_pipeline.warehouse.tables.quality import ADMITTED_ANSWERS, FINDINGS, MEMBER_SUMMARY
from pmm_pipeline.warehouse.tables.raw import RAW_ANSWERS, RAW_DISCLOSURE, RECEIVED_FILES, REJECTIONS, SUBMISSIONS
from pmm_pipeline.warehouse.tables.shared_columns import ANSWER_COLUMNS, CHANNEL_COLUMNS, SOURCE_COLUMNS
from pmm_pipeline.warehouse.tables.staging import (
    DISCLOSURE,
    PARTICIPATION,
    STAGED_ANSWERS,
    SUBMISSION_CHANGES,
    SUBMISSION_HISTORY,
)

__all__ = [
    "ADMITTED_ANSWERS",
    "ANSWER_COLUMNS",
    "C",
    "CHANNEL_COLUMNS",
    "COMPLETENESS",
    "Column",
    "DISCLOSURE",
    "FEEDBACK_REPORTS",
    "FINDINGS",
    "KPI_VALUES",
    "MEMBER_SUMMARY",
    "OUTSTANDING_MEMBERS",
    "PARTICIPATION",
    "PROVENANCE",
    "PUBLISHED_KPI_COLUMNS",
    "PUBLISHED_ROLLUP_COLUMNS",
    "QUESTIONNAIRES",
    "RAW_ANSWERS",
    "RAW_DISCLOSURE",
    "RECEIVED_FILES",
    "REJECTIONS",
    "ROLLUPS",
    "SOURCE_COLUMNS",
    "STAGED_ANSWERS",
    "SUBMISSIONS",
    "SUBMISSION_CHANGES",
    "SUBMISSION_HISTORY",
    "Table",
    "WITHHELD",
    "declared_tables",
    "published_schema",
    "published_tables",
]


def declared_tables() -> list[Table]:
    """Every table of the warehouse: the ones declared in this package's modules, then each tier's published
    tables."""
    return [
        *(t for t in globals().values() if isinstance(t, Table)),
        *(t for tier in TIERS for t in published_tables(tier)),
    ]
