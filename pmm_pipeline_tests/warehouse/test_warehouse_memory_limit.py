"""PMM_WAREHOUSE_MEMORY_LIMIT reaches DuckDB on the warehouse connections (resource and open_warehouse)."""

import duckdb
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.warehouse.connection import open_warehouse


def memory_limit_of(conn) -> str:
    return conn.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_setting_defaults_to_one_gib():
    assert Settings.from_env({}).warehouse_memory_limit == "1GiB"


# The setting as written -> what DuckDB reports once the warehouse is opened with it (G, GB: 1000^3 bytes;
# GiB: 1024^3 bytes; DuckDB shows binary units, so 1G = 10^9 bytes reads 953.6 MiB).
ACCEPTED = {"1G": "953.6 MiB", "512M": "488.2 MiB", "1GiB": "1.0 GiB", "512MB": "488.2 MiB", "300MiB": "300.0 MiB"}


@pytest.mark.parametrize("text", sorted(ACCEPTED))
def test_setting_accepts_units_with_or_without_the_b_and_duckdb_reads_them_as_meant(tmp_path, text):
    settings = Settings.from_env({"PMM_WAREHOUSE_MEMORY_LIMIT": text})
    with open_warehouse(tmp_path / "w.duckdb", memory_limit=settings.warehouse_memory_limit) as conn:
        assert memory_limit_of(conn) == ACCEPTED[text]


def test_setting_accepts_a_share_of_the_machines_memory():
    # 50 % of this machine's memory: its value in bytes depends on the machine, so only the text is checked.
    assert Settings.from_env({"PMM_WAREHOUSE_MEMORY_LIMIT": "50%"}).warehouse_memory_limit == "50%"


# DuckDB itself takes some of these: "-1GB" as no limit at all, "1 GiB of RAM" as 1 GiB, "0GB" as a limit
# that makes every query fail. The setting refuses them, and anything without a unit.
@pytest.mark.parametrize("bad", ["0GB", "0%", "-1GB", "-50%", "lots", "512", "GB", "1 GiB of RAM", "1XB"])
def test_setting_refuses_zero_negative_and_malformed_amounts(bad):
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
    with duckdb.connect(":memory:") as fresh:
        duckdb_default = memory_limit_of(fresh)  # DuckDB's own default: 80 % of the machine's memory
    with open_warehouse(tmp_path / "w.duckdb", memory_limit=None) as conn:
        assert memory_limit_of(conn) == duckdb_default
