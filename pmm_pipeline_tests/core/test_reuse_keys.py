"""Reuse keys (core/reuse.py) and table digests (warehouse/digests.py): what changes a key and what does not."""

import duckdb
import pytest

from pmm_pipeline.core.provenance import source_digest
from pmm_pipeline.core.reuse import ReuseRecord, changed, decide, read_record, step_key, write_record
from pmm_pipeline.warehouse.digests import ABSENT, table_digest
from pmm_pipeline.warehouse.tables import ROLLUPS

pytestmark = pytest.mark.unit

ROWS = [("2023", "k", "total", "global", "all", 3.0), ("2023", "k", "total", "region", "AF", 1.5)]


def _warehouse(rows) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(":memory:")
    conn.execute("CREATE SCHEMA rollup")
    conn.execute(
        "CREATE TABLE rollup.rollups (cycle VARCHAR, kpi_id VARCHAR, series VARCHAR, group_type VARCHAR,"
        " group_code VARCHAR, mean DOUBLE)"
    )
    if rows:
        conn.executemany("INSERT INTO rollup.rollups VALUES (?, ?, ?, ?, ?, ?)", rows)
    return conn


def test_a_table_digest_ignores_row_order_and_other_cycles_but_not_a_value_or_a_row():
    digest = table_digest(_warehouse(ROWS), ROLLUPS, ["2023"])
    assert table_digest(_warehouse(ROWS[::-1]), ROLLUPS, ["2023"]) == digest
    assert table_digest(_warehouse([*ROWS, ("2025", "k", "total", "global", "all", 9.0)]), ROLLUPS, ["2023"]) == digest
    assert table_digest(_warehouse([ROWS[0], (*ROWS[1][:5], 1.25)]), ROLLUPS, ["2023"]) != digest
    assert table_digest(_warehouse(ROWS[:1]), ROLLUPS, ["2023"]) != digest
    # A row twice is not the row once (a sum of hashes, not an exclusive or).
    assert table_digest(_warehouse([*ROWS, ROWS[0]]), ROLLUPS, ["2023"]) != digest


def test_a_table_not_created_yet_is_absent_or_empty_as_asked():
    conn = duckdb.connect(":memory:")
    assert table_digest(conn, ROLLUPS, ["2023"]) == ABSENT
    assert table_digest(conn, ROLLUPS, ["2023"], absent_as_empty=True) == table_digest(
        _warehouse([]), ROLLUPS, ["2023"]
    )


def test_a_key_is_the_same_for_the_same_inputs_in_any_order_and_names_what_changed():
    inputs = {"table:kpi.kpi_values": "3:12", "code_version": "1.0", "setting:min_group_size": "a"}
    assert step_key(inputs) == step_key(dict(reversed(list(inputs.items()))))
    moved = {**inputs, "setting:min_group_size": "b"}
    assert step_key(moved) != step_key(inputs)
    assert changed(inputs, moved) == ["setting:min_group_size"]
    assert changed(inputs, {**inputs, "catalogue_digest": "x"}) == ["catalogue_digest"]


def test_a_step_reuses_only_with_its_last_key_and_its_outputs_intact(tmp_path):
    inputs, outputs = {"table:kpi.kpi_values": "3:12"}, {"folder:published/2023/public": "m1"}
    key = step_key(inputs)
    record = ReuseRecord("publish_public__releases", key, inputs, outputs, "run-1", [{"kind": "materialization"}])
    write_record(tmp_path / "r.json", record)
    previous = read_record(tmp_path / "r.json")
    assert previous == record
    assert decide(previous, key, inputs, outputs).reuse
    assert not decide(None, key, inputs, outputs).reuse
    other = {"table:kpi.kpi_values": "4:15"}
    refused = decide(previous, step_key(other), other, outputs)
    assert not refused.reuse and refused.changed_inputs == ["table:kpi.kpi_values"]
    altered = decide(previous, key, inputs, {"folder:published/2023/public": "altered (1 problem(s))"})
    assert not altered.reuse and altered.changed_outputs == ["folder:published/2023/public"]
    assert "outputs altered" in altered.why


def test_a_record_that_is_not_one_is_no_record(tmp_path):
    (tmp_path / "r.json").write_text("{not json")
    (tmp_path / "s.json").write_text('{"format": "something else"}')
    assert read_record(tmp_path / "r.json") is None
    assert read_record(tmp_path / "s.json") is None
    assert read_record(tmp_path / "missing.json") is None


def test_the_code_digest_changes_with_any_file_of_the_package_but_not_with_compiled_bytecode(tmp_path):
    package = tmp_path / "package"
    (package / "sub" / "__pycache__").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "texts.po").write_text('msgid "a"\n')
    digest = source_digest.__wrapped__(package)
    (package / "sub" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00compiled")
    assert source_digest.__wrapped__(package) == digest
    (package / "a.py").write_text("x = 2\n")  # an uncommitted edit: the version string would not change
    assert source_digest.__wrapped__(package) != digest
    (package / "a.py").write_text("x = 1\n")
    assert source_digest.__wrapped__(package) == digest
    (package / "sub" / "texts.po").write_text('msgid "b"\n')  # texts are code: they shape what is written
    assert source_digest.__wrapped__(package) != digest
    (package / "sub" / "texts.po").write_text('msgid "a"\n')
    (package / "sub" / "texts.po").rename(package / "texts.po")  # the same bytes elsewhere
    assert source_digest.__wrapped__(package) != digest
