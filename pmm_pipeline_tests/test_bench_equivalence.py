"""The pipeline's KPI and rollup SQL, a hand-written DuckDB query and plain pandas give the same tables, bit for bit,
on the benchmark's cycle-sized warehouse (benchmarks/kpi_rollups.py; `make bench` times them)."""

import pytest

from benchmarks.kpi_rollups import CYCLE, RUNNERS, differences, hand_catalogue_gaps, result_tables, seed_inputs
from benchmarks.validation import every_member_answering, gate_inputs
from pmm_pipeline.catalogue.load import load_catalogue
from pmm_pipeline.reference.load import load_reference
from pmm_pipeline.resources.warehouse import open_warehouse
from pmm_pipeline_tests.conftest import settings_for


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    settings = settings_for(tmp_path_factory.mktemp("data"))
    return settings, load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir)


@pytest.fixture(scope="module")
def computed(shipped):
    """A warehouse seeded as `make bench` seeds its cycle size, with the three ways' tables written."""
    settings, reference, catalogue = shipped
    answers = gate_inputs(reference, catalogue, CYCLE, every_member_answering(reference, catalogue, CYCLE)).answers
    with open_warehouse(settings.layout.warehouse_path) as conn:
        seed_inputs(conn, reference, catalogue, answers)
        for run in RUNNERS.values():
            run(conn, reference, catalogue)
    return settings


def query(settings, sql, params=()):
    with open_warehouse(settings.layout.warehouse_path) as conn:
        return conn.execute(sql, list(params)).fetchall()


def test_hand_written_catalogue_is_the_shipped_one(shipped):
    _, reference, catalogue = shipped
    assert hand_catalogue_gaps(catalogue, reference) == []


@pytest.mark.parametrize("implementation", ["duckdb", "pandas"])
def test_same_tables_as_the_pipeline(computed, implementation):
    with open_warehouse(computed.layout.warehouse_path) as conn:
        assert differences(conn, implementation) == []


def test_the_seeded_cycle_exercises_every_path(computed):
    """Equality means something only if the data reach every status, flags and group statistic."""
    statuses = {s for (s,) in query(computed, "SELECT DISTINCT status FROM kpi.kpi_values WHERE cycle = ?", [CYCLE])}
    assert statuses == {"reported", "not_applicable", "missing", "undefined"}
    (with_two_flags,) = query(computed, "SELECT count(*) FROM kpi.kpi_values WHERE flags LIKE '%;%'")[0]
    assert with_two_flags > 0
    # 186 members in force; every 15th sends nothing (13), every 20th of the others is blocked (9).
    (members,) = query(computed, "SELECT count(DISTINCT member_code) FROM kpi.kpi_values")[0]
    assert members == 186 - 13 - 9
    stats = query(
        computed,
        "SELECT count(*) FILTER (WHERE pooled IS NOT NULL), count(*) FILTER (WHERE median IS NOT NULL),"
        " count(DISTINCT group_type) FROM rollup.rollups WHERE cycle = ?",
        [CYCLE],
    )[0]
    assert stats[0] > 0 and stats[1] > 0 and stats[2] == 5


def test_a_difference_in_the_last_bit_is_caught(computed):
    kpi_values = result_tables("pandas")[0].qualified  # the benchmark's own table name, not a value
    nudge = (
        f"UPDATE {kpi_values} SET value = nextafter(value, ?)"
        f" WHERE rowid = (SELECT min(rowid) FROM {kpi_values} WHERE value IS NOT NULL)"
    )
    with open_warehouse(computed.layout.warehouse_path) as conn:
        conn.execute(nudge, [1e308])
        try:
            found = differences(conn, "pandas")
        finally:
            conn.execute(nudge, [-1e308])
        assert differences(conn, "pandas") == []
    assert len(found) == 2 and found[0].startswith("1 row(s) of bench_pandas.kpi_values not in kpi.kpi_values")
