"""The pipeline's KPI and rollup SQL, a hand-written DuckDB query and plain pandas give the same tables, bit for bit,
on the benchmark's cycle-sized warehouse (benchmarks/kpi_rollups.py; `make bench` times them).

Both baselines read the catalogue (no copy of the KPIs): a catalogue with KPIs of formulas the hand-written query
has no form for is compared too, pandas evaluating every formula itself.
"""

import shutil

import pytest

from benchmarks.kpi_rollups import RUNNERS, compared_kpis, differences
from benchmarks.kpi_series import cycle_series, hand_form, hand_sql_kpis
from benchmarks.kpi_warehouse import CYCLE, result_tables, seed_inputs
from benchmarks.validation import every_member_answering, gate_inputs
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.formula import parse_formula
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.warehouse.connection import open_warehouse
from pmm_pipeline_tests.conftest import settings_for

SPECS = Settings.from_env({}).specs_dir


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    settings = settings_for(tmp_path_factory.mktemp("data"))
    return settings, load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir)


def seeded_and_computed(settings, reference, catalogue):
    """A warehouse seeded as `make bench` seeds its cycle size, with the three ways' tables written."""
    answers = gate_inputs(reference, catalogue, CYCLE, every_member_answering(reference, catalogue, CYCLE)).answers
    with open_warehouse(settings.layout.warehouse_path) as conn:
        seed_inputs(conn, reference, catalogue, answers)
        for run in RUNNERS.values():
            run(conn, reference, catalogue)
    return settings


@pytest.fixture(scope="module")
def computed(shipped):
    return seeded_and_computed(*shipped)


# KPIs a catalogue author might add on existing items, with formulas outside the hand-written query's four forms:
# a compound denominator, functions, a division inside least() (a zero denominator there is skipped, as SQL skips
# NULL), a negation and a number alone as numerator.
NEW_KPIS = {
    "import_share_of_trade": (
        "ratio",
        "100 * import_value_total[T] / (import_value_total[T] + export_value_total[T])",
        "[mean, median, min, max, pooled]",
    ),
    "declarations_change_size": (
        "value",
        "abs(declarations_total[T] - declarations_total[T-1]) / greatest(declarations_total[T-1], 1)",
        "[mean, median]",
    ),
    "capped_inspection_rate": (
        "value",
        "least(100 * declarations_physical_inspection[T] / declarations_total[T], 50)",
        "[mean, max]",
    ),
    "staff_per_declaration": ("value", "-(1 / declarations_total[T]) * -staff_total[T]", "[median, min]"),
    "electronic_share_again": ("ratio", "declarations_electronic[T] / declarations_total[T]", "[mean]"),
}


@pytest.fixture(scope="module")
def computed_with_new_kpis(tmp_path_factory, shipped):
    _, reference, _ = shipped
    specs = tmp_path_factory.mktemp("specs") / "kpi_specs"
    shutil.copytree(SPECS, specs)
    template = (specs / "pca_effectiveness.yaml").read_text()
    for kpi_id, (shape, formula, statistics) in NEW_KPIS.items():
        (specs / f"{kpi_id}.yaml").write_text(
            template.replace("id: pca_effectiveness", f"id: {kpi_id}")
            .replace("100 * pca_controls_with_findings[T] / pca_controls_total[T]", formula)
            .replace("shape: ratio", f"shape: {shape}")
            .replace("[mean, median, min, max, pooled]", statistics)
        )
    settings = settings_for(tmp_path_factory.mktemp("data"))
    catalogue = load_catalogue(specs)
    return seeded_and_computed(settings, reference, catalogue), reference, catalogue


def query(settings, sql, params=()):
    with open_warehouse(settings.layout.warehouse_path) as conn:
        return conn.execute(sql, list(params)).fetchall()


def test_baselines_read_every_series_from_the_catalogue(shipped):
    _, reference, catalogue = shipped
    version = reference.cycles.get(CYCLE).catalogue_version
    series = cycle_series(catalogue, version)
    assert {(s.kpi_id, s.series) for s in series} == {
        (k.id, s.id) for k in catalogue.kpis_for_version(version) for s in k.series
    }
    # The KPIs the hand-written query computes use each of its four forms (a KPI with a formula of another form is
    # left to pandas).
    hand = set(hand_sql_kpis(catalogue, version))
    assert {s.form for s in series if s.kpi_id in hand} == {"ratio", "variation", "value", "level"}


@pytest.mark.parametrize(
    "formula,categorical,form",
    [
        ("100 * a[T] / b[T]", False, {"form": "ratio", "a": "a", "b": "b", "scale": 100.0}),
        ("(a[T] / b[T])", False, {"form": "ratio", "a": "a", "b": "b", "scale": 1.0}),
        ("100 * (a[T] - a[T-1]) / a[T-1]", False, {"form": "variation", "a": "a", "scale": 100.0}),
        ("a[T]", False, {"form": "value", "a": "a"}),
        ("a[T]", True, {"form": "level", "a": "a"}),
        ("100 * (b[T] - a[T-1]) / a[T-1]", False, {}),  # two items: not a variation
        ("100 * a[T] / (a[T] + b[T])", False, {}),
        ("a[T-1]", False, {}),
        ("a[T] / b[T-1]", False, {}),
    ],
)
def test_the_hand_written_forms_are_recognised_exactly(formula, categorical, form):
    assert hand_form(parse_formula(formula), categorical) == form


@pytest.mark.parametrize("implementation", ["duckdb", "pandas"])
def test_same_tables_as_the_pipeline(computed, shipped, implementation):
    _, reference, catalogue = shipped
    with open_warehouse(computed.layout.warehouse_path) as conn:
        assert differences(conn, implementation, compared_kpis(implementation, catalogue, reference)) == []


def test_new_kpis_need_no_edit_of_the_benchmark(computed_with_new_kpis):
    settings, reference, catalogue = computed_with_new_kpis
    version = reference.cycles.get(CYCLE).catalogue_version
    assert set(NEW_KPIS) - set(hand_sql_kpis(catalogue, version)) == set(NEW_KPIS) - {"electronic_share_again"}
    with open_warehouse(settings.layout.warehouse_path) as conn:
        assert differences(conn, "pandas") == []
        assert differences(conn, "duckdb", compared_kpis("duckdb", catalogue, reference)) == []
        # The new KPIs reached every status they can, so the equality above covers their paths.
        statuses = dict(
            conn.execute(
                "SELECT kpi_id, list(DISTINCT status ORDER BY status) FROM kpi.kpi_values"
                " WHERE cycle = ? AND list_contains(?, kpi_id) GROUP BY kpi_id",
                [CYCLE, list(NEW_KPIS)],
            ).fetchall()
        )
        pooled = conn.execute(
            "SELECT count(*) FROM rollup.rollups WHERE cycle = ? AND kpi_id = 'import_share_of_trade'"
            " AND pooled IS NOT NULL",
            [CYCLE],
        ).fetchall()[0][0]
    assert set(statuses) == set(NEW_KPIS)
    assert all({"reported", "missing"} <= set(found) for found in statuses.values())
    assert "undefined" in statuses["staff_per_declaration"]  # 1 / 0 declarations
    assert "undefined" not in statuses["capped_inspection_rate"]  # least() skips the NULL of 1 / 0
    assert pooled > 0


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
