"""PMM_WAREHOUSE_MEMORY_LIMIT reaches DuckDB on the warehouse connections (resource and open_warehouse)."""

import pytest

from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.resources.warehouse import open_warehouse
from pmm_pipeline.settings import Settings


def memory_limit_of(conn) -> str:
    return conn.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_setting_defaults_to_one_gib_and_rejects_what_duckdb_would():
    assert Settings.from_env({}).warehouse_memory_limit == "1GiB"
    assert Settings.from_env({"PMM_WAREHOUSE_MEMORY_LIMIT": "512MB"}).warehouse_memory_limit == "512MB"
    for bad in ("lots", "512", "1 GiB of RAM", "-1GB"):
        with pytest.raises(ValueError, match="PMM_WAREHOUSE_MEMORY_LIMIT"):
            Settings.from_env({"PMM_WAREHOUSE_MEMORY_LIMIT": bad})


def test_the_warehouse_resource_opens_duckdb_with_the_setting(tmp_path):
    settings = Settings.from_env({"PMM_DATA_DIR": str(tmp_path), "PMM_WAREHOUSE_MEMORY_LIMIT": "300MiB"})
    warehouse = build_definitions(settings).resources["warehouse"]
    with warehouse.get_connection() as conn:
        assert memory_limit_of(conn) == "300.0 MiB"


def test_open_warehouse_applies_the_default_limit_unless_told_otherwise(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as conn:
        assert memory_limit_of(conn) == "1.0 GiB"
    with open_warehouse(tmp_path / "w.duckdb", memory_limit="64MiB") as conn:
        assert memory_limit_of(conn) == "64.0 MiB"
    with open_warehouse(tmp_path / "w.duckdb", memory_limit=None) as conn:
        assert memory_limit_of(conn) != "1.0 GiB"  # DuckDB's own default: 80 % of the machine's memory
