"""Where released tables are also written for database readers: a SQLAlchemy URL (PMM_PUBLISH_SQL_URL), or none.

With no URL (the embedded default) publishing to SQL does nothing: the release folders are the
only output. With e.g. `postgresql+psycopg://pmm_publisher@db/pmm` each tier's release is copied
into that database too (stages/publishing/sql_publish.py). Which it is, is configuration only.

The Dagster UI shows every resource's settings to everyone who opens it, so a password never goes
into them: give a password-less URL and let libpq find the password (PGPASSWORD, ~/.pgpass,
PGPASSFILE), or, if the URL holds one, the resource is given the variable's name (dg.EnvVar) and
reads the value when a run starts. Logs and metadata show the URL with its password masked.
"""

from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from pmm_pipeline.core.settings import PUBLISH_SQL_URL_VAR, publish_sql_url_in_environment
from pmm_pipeline.stages.publishing.sql_publish import SqlTable, publish_cycle

# Query parameters of a URL that libpq reads as secrets.
SECRET_QUERY_KEYS = ("password", "passfile", "sslpassword")


def _holds_secret(url: sa.URL) -> bool:
    return url.password is not None or any(key.lower() in SECRET_QUERY_KEYS for key in url.query)


class SqlPublicationTarget(dg.ConfigurableResource):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL of the database the releases are copied to; none: files only"
    )

    @classmethod
    def from_setting(cls, url: str | None) -> "SqlPublicationTarget":
        """The resource for the PMM_PUBLISH_SQL_URL setting; a URL holding a secret stays in the environment.

        A secret is a password in the URL or in its query (`?password=`, `passfile=`, `sslpassword=`,
        which libpq reads too). Such a URL must be the environment variable's value, which Dagster reads
        when a run starts: a URL given another way would publish elsewhere than it says.
        """
        if not url:
            return cls(url=None)
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise ValueError(f"{PUBLISH_SQL_URL_VAR} is not a SQLAlchemy URL (driver://user@host/database)") from None
        if not _holds_secret(parsed):
            return cls(url=url)
        if url != publish_sql_url_in_environment():
            raise ValueError(
                f"a publication URL holding a password must be the environment variable {PUBLISH_SQL_URL_VAR}"
                " (or leave the password out and let libpq find it: PGPASSWORD, ~/.pgpass, PGPASSFILE)"
            )
        return cls(url=dg.EnvVar(PUBLISH_SQL_URL_VAR))

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def display_url(self) -> str:
        """The URL without its secrets, for logs and metadata."""
        if not self.url:
            return ""
        parsed = sa.make_url(self.url)
        masked = {k: "***" if k.lower() in SECRET_QUERY_KEYS else v for k, v in parsed.query.items()}
        return parsed.set(query=masked).render_as_string(hide_password=True)

    def publish(self, cycle: str, tables: Sequence[SqlTable]) -> dict[str, int]:
        """Replace the cycle's rows of `tables` in one transaction; {} when no target is configured."""
        if not self.url:
            return {}
        engine = sa.create_engine(self.url, pool_pre_ping=True)
        try:
            return publish_cycle(engine, cycle, tables)
        finally:
            engine.dispose()
