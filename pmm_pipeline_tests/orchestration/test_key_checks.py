"""The row-key checks derived from the tables' declarations (orchestration/key_checks.py): what they report, and that
every keyed table asset of the code location has its own."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.orchestration.checks import CHECKS, RECORD_ROW_KEY_CHECK, ROW_KEY_CHECK, CheckKind
from pmm_pipeline.orchestration.key_checks import (
    LISTED_DUPLICATES,
    ON_RECORD,
    TABLES_BY_ASSET_KEY,
    key_check_name,
    key_check_result,
)
from pmm_pipeline.orchestration.policies import apply_asset_policies
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.warehouse.tables import KPI_VALUES, RAW_ANSWERS, declared_tables
from pmm_pipeline.warehouse.writes import append_rows, create_tables


def kpi_rows(cycle: str, members: list[str]) -> pd.DataFrame:
    rows = [
        {c: None for c in KPI_VALUES.column_names}
        | {"cycle": cycle, "member_code": m, "kpi_id": "k", "series": "total", "status": "reported"}
        for m in members
    ]
    return pd.DataFrame(rows, columns=KPI_VALUES.column_names)


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        create_tables(conn, [KPI_VALUES])
        yield conn


def test_the_check_passes_on_rows_that_its_key_tells_apart(conn):
    append_rows(conn, KPI_VALUES, kpi_rows("2023", ["FRA", "KEN"]))
    result = key_check_result(conn, KPI_VALUES, "2023")
    assert result.passed and result.description is None
    assert result.check_name == ROW_KEY_CHECK and result.asset_key == dg.AssetKey(["kpi", "kpi_values"])
    assert result.metadata["duplicate_keys"].value == []


def test_the_check_fails_naming_the_table_the_key_and_the_keys_repeated(conn):
    append_rows(conn, KPI_VALUES, kpi_rows("2023", ["FRA", "FRA", "KEN", "KEN", "KEN", "MEX"]))
    result = key_check_result(conn, KPI_VALUES, "2023")
    assert not result.passed
    assert result.description == (
        "kpi.kpi_values: rows of cycle 2023 share a row key (cycle, member_code, kpi_id, series):"
        " cycle=2023, member_code=FRA, kpi_id=k, series=total (2 rows);"
        " cycle=2023, member_code=KEN, kpi_id=k, series=total (3 rows)"
    )
    assert [(d["member_code"], d["n_rows"]) for d in result.metadata["duplicate_keys"].value] == [
        ("FRA", 2),
        ("KEN", 3),
    ]


def test_only_the_cycles_rows_are_checked_and_a_few_keys_are_listed(conn):
    append_rows(conn, KPI_VALUES, kpi_rows("2022", ["FRA", "FRA"]))
    assert key_check_result(conn, KPI_VALUES, "2023").passed
    many = [f"M{i:02d}" for i in range(LISTED_DUPLICATES + 3)]
    append_rows(conn, KPI_VALUES, kpi_rows("2023", many + many))
    result = key_check_result(conn, KPI_VALUES, "2023")
    assert len(result.metadata["duplicate_keys"].value) == LISTED_DUPLICATES
    assert result.description.endswith(", and more")


def test_a_table_not_in_the_warehouse_repeats_no_key():
    # A reused release step replays its result over a warehouse rebuilt from the archive: no releases table yet.
    with duckdb.connect() as conn:
        assert key_check_result(conn, KPI_VALUES, "2023").passed


def test_a_null_in_a_key_column_counts_as_one_value():
    # A key column may hold NULL (raw.rejections: a landing entry that is no file has no sha256): two rows whose
    # keys are equal but for NULLs in the same place share one key, as GROUP BY counts them.
    with duckdb.connect() as conn:
        create_tables(conn, [RAW_ANSWERS])
        rows = pd.DataFrame(
            [{c: None for c in RAW_ANSWERS.column_names} | {"cycle": "2023", "item": "a", "year": 2023}] * 2,
            columns=RAW_ANSWERS.column_names,
        )
        append_rows(conn, RAW_ANSWERS, rows)
        assert not key_check_result(conn, RAW_ANSWERS, "2023").passed


def test_every_table_declares_its_row_key_or_why_it_has_none():
    for table in declared_tables():
        assert bool(table.row_key) != bool(table.why_no_key), table.qualified
        assert not table.row_key or table.row_key[0] == "cycle", table.qualified
    with pytest.raises(ValueError, match="needs no reason"):
        type(KPI_VALUES)("s", "t", "one row", KPI_VALUES.columns, row_key=("cycle",), why_no_key="none")


def test_a_blocking_and_a_record_check_are_both_guarantees():
    assert {CHECKS[ROW_KEY_CHECK].kind, CHECKS[RECORD_ROW_KEY_CHECK].kind} == {CheckKind.guarantee}
    assert CHECKS[ROW_KEY_CHECK].blocking and not CHECKS[RECORD_ROW_KEY_CHECK].blocking
    assert ON_RECORD <= {t.qualified for t in declared_tables() if t.row_key}
    for name in ("kpi.kpi_values", "rollup.rollups", "quality.admitted_answers", "publish_public.kpi_values"):
        assert name not in ON_RECORD


def test_every_keyed_table_asset_of_the_code_location_has_its_row_key_check():
    graph = build_definitions(Settings.from_env({})).resolve_asset_graph()
    keyed = {key for key in graph.get_all_asset_keys() if key in TABLES_BY_ASSET_KEY}
    keyed = {key for key in keyed if TABLES_BY_ASSET_KEY[key].row_key}
    assert len(keyed) >= 25
    for key in keyed:
        table = TABLES_BY_ASSET_KEY[key]
        check_key = dg.AssetCheckKey(key, key_check_name(table))
        assert check_key in graph.asset_check_keys, key.to_user_string()
        check = graph.get(check_key)
        assert check.blocking == (table.qualified not in ON_RECORD), key.to_user_string()
        assert ", ".join(table.row_key) in check.description
    # No row-key check on an asset that is no keyed table.
    named = {k for k in graph.asset_check_keys if k.name in (ROW_KEY_CHECK, RECORD_ROW_KEY_CHECK)}
    assert {k.asset_key for k in named} == keyed


@pytest.mark.cycle
def test_a_step_that_writes_a_key_twice_fails_and_stops_the_steps_after_it(tmp_path):
    partitions = dg.StaticPartitionsDefinition(["2023"])

    @dg.asset(key=KPI_VALUES.key, partitions_def=partitions)
    def kpi_values(context: dg.AssetExecutionContext, warehouse: Warehouse):
        with warehouse.get_connection() as conn:
            append_rows(conn, KPI_VALUES, kpi_rows(context.partition_key, ["FRA", "FRA", "KEN"]))
        return dg.MaterializeResult()

    @dg.asset(deps=[kpi_values], partitions_def=partitions)
    def downstream():
        return dg.MaterializeResult()

    result = dg.materialize(
        apply_asset_policies([kpi_values, downstream], strict_checks=True),
        partition_key="2023",
        resources={"warehouse": Warehouse(database=str(tmp_path / "warehouse.duckdb"))},
        raise_on_error=False,
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == ROW_KEY_CHECK and not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "kpi.kpi_values" in evaluation.description and "member_code=FRA" in evaluation.description
    assert not result.success
    assert not result.asset_materializations_for_node("downstream")
