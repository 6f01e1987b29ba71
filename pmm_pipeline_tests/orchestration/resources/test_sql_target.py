"""The publication URL setting: a secret in it never reaches Dagster's stored config nor the logs."""

import dagster as dg
import pytest

from pmm_pipeline.orchestration.resources.sql_target import SqlPublicationTarget

SECRET = "s3cret-Value"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://pmm_publisher:{SECRET}@db.example/pmm",
        f"postgresql+psycopg://pmm_publisher@db.example/pmm?password={SECRET}",
        f"postgresql+psycopg://pmm_publisher@db.example/pmm?sslmode=require&PassFile=/run/{SECRET}",
    ],
)
def test_a_url_holding_a_secret_is_taken_from_the_environment_and_shown_masked(url, monkeypatch):
    monkeypatch.setenv("PMM_PUBLISH_SQL_URL", url)
    target = SqlPublicationTarget.from_setting(url)
    assert isinstance(target.url, dg.EnvVar) and target.url.env_var_name == "PMM_PUBLISH_SQL_URL"

    shown = SqlPublicationTarget(url=url).display_url()
    assert SECRET not in shown and shown.startswith("postgresql+psycopg://pmm_publisher")


def test_a_url_holding_a_secret_given_other_than_by_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("PMM_PUBLISH_SQL_URL", "postgresql+psycopg://pmm_publisher@elsewhere/pmm")
    with pytest.raises(ValueError, match="must be the environment variable PMM_PUBLISH_SQL_URL") as refused:
        SqlPublicationTarget.from_setting(f"postgresql+psycopg://pmm_publisher:{SECRET}@db.example/pmm")
    assert SECRET not in str(refused.value)


def test_a_password_less_url_is_kept_as_it_is_and_a_malformed_one_refused_without_echo(monkeypatch):
    monkeypatch.delenv("PMM_PUBLISH_SQL_URL", raising=False)
    url = "postgresql+psycopg://pmm_publisher@db.example/pmm?sslmode=require"
    assert SqlPublicationTarget.from_setting(url).url == url
    assert SqlPublicationTarget.from_setting(None).configured is False
    with pytest.raises(ValueError, match="is not a SQLAlchemy URL") as refused:
        SqlPublicationTarget.from_setting(f"not a url {SECRET}")
    assert SECRET not in str(refused.value)
