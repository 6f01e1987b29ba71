"""Where released tables are also written for database readers: a SQLAlchemy URL (PMM_PUBLISH_SQL_URL), or none.

With no URL (the embedded default) publishing to SQL does nothing: the release folders are the
only output. With e.g. `postgresql+psycopg://pmm_publisher:...@db/pmm` each tier's release is
copied into that database too (publishing/sql_publish.py). Which it is, is configuration only.
"""

from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from pmm_pipeline.publishing.sql_publish import SqlTable, publish_cycle


class SqlPublicationTarget(dg.ConfigurableResource):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL of the database the releases are copied to; none: files only"
    )

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def display_url(self) -> str:
        """The URL without its password, for logs and metadata."""
        return sa.make_url(self.url).render_as_string(hide_password=True) if self.url else ""

    def publish(self, cycle: str, tables: Sequence[SqlTable]) -> dict[str, int]:
        """Replace the cycle's rows of `tables` in one transaction; {} when no target is configured."""
        if not self.url:
            return {}
        engine = sa.create_engine(self.url, pool_pre_ping=True)
        try:
            return publish_cycle(engine, cycle, tables)
        finally:
            engine.dispose()
