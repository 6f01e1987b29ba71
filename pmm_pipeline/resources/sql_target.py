"""Where released tables are also written for database readers: a SQLAlchemy URL (PMM_PUBLISH_SQL_URL), or none.

With no URL (the embedded default) publishing to SQL does nothing: the release folders are the
only output. With e.g. `postgresql+psycopg://pmm_publisher@db/pmm` each tier's release is copied
into that database too (publishing/sql_publish.py). Which it is, is configuration only.

The Dagster UI shows every resource's settings to everyone who opens it, so a password never goes
into them: give a password-less URL and let libpq find the password (PGPASSWORD, ~/.pgpass,
PGPASSFILE), or, if the URL holds one, the resource is given the variable's name (dg.EnvVar) and
reads the value when a run starts. Logs and metadata show the URL with its password masked.
"""

from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from pmm_pipeline.publishing.sql_publish import SqlTable, publish_cycle
from pmm_pipeline.settings import PUBLISH_SQL_URL_VAR


class SqlPublicationTarget(dg.ConfigurableResource):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL of the database the releases are copied to; none: files only"
    )

    @classmethod
    def from_setting(cls, url: str | None) -> "SqlPublicationTarget":
        """The resource for the PMM_PUBLISH_SQL_URL setting; a URL with a password stays in the environment."""
        try:
            has_password = bool(url) and sa.make_url(url).password is not None
        except sa.exc.ArgumentError:
            raise ValueError(f"{PUBLISH_SQL_URL_VAR} is not a SQLAlchemy URL (driver://user@host/database)") from None
        return cls(url=dg.EnvVar(PUBLISH_SQL_URL_VAR) if has_password else url)

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
