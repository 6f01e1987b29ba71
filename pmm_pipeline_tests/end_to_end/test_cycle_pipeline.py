"""A whole cycle through Dagster on hand-made submissions, compared with values worked out by hand."""

import json
import math
import shutil

import duckdb
import pandas as pd
import pytest
import yaml

from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process

EXPECTED = yaml.safe_load((FIXTURES / "cycle_2023" / "expected.yaml").read_text())


def query(settings, sql, params=None):
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql, params or []).df()


def same_number(actual, expected) -> bool:
    if expected is None:
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    return actual is not None and math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)


def test_run_succeeds(fixture_cycle):
    _, result = fixture_cycle
    assert result.success


def test_participation_and_versions(fixture_cycle):
    settings, _ = fixture_cycle
    participation = query(
        settings, "SELECT member_code FROM staging.participation WHERE cycle = '2023' AND is_participating"
    )
    assert sorted(participation.member_code) == EXPECTED["participating"]
    versions = query(
        settings, "SELECT member_code, file_name, version, is_latest FROM raw.submissions ORDER BY member_code, version"
    )
    for member, files in EXPECTED["versions"].items():
        rows = versions[versions.member_code == member]
        assert list(rows.file_name) == files
        assert list(rows.version) == list(range(1, len(files) + 1))
        assert list(rows.is_latest) == [False] * (len(files) - 1) + [True]


def test_rejected_files_are_quarantined_with_reason(fixture_cycle):
    settings, _ = fixture_cycle
    rejections = query(settings, "SELECT file_name, reason_code, quarantine_path FROM raw.rejections")
    assert dict(zip(rejections.file_name, rejections.reason_code, strict=True)) == EXPECTED["rejections"]
    for row in rejections.itertuples():
        reason = json.loads(
            (settings.layout.quarantine_dir("2023") / (row.quarantine_path.split("/")[-1] + ".reason.json")).read_text()
        )
        assert reason["reason_code"] == row.reason_code
        assert reason["file"] == row.file_name
        assert reason["problems"] and all(p["message"] for p in reason["problems"])


def test_every_received_file_is_archived_by_hash(fixture_cycle):
    import hashlib

    settings, _ = fixture_cycle
    landing = settings.layout.landing_dir("2023")
    received = query(settings, "SELECT file_name, sha256, archive_path FROM raw.received_files")
    assert sorted(received.file_name) == sorted(p.name for p in landing.iterdir())
    for row in received.itertuples():
        data = (landing / row.file_name).read_bytes()
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        archived = settings.layout.archive_dir / row.sha256[:2] / f"{row.sha256}.json"
        assert archived.read_bytes() == data and row.archive_path == str(archived)


def expected_kpi_rows():
    for kpi_id, by_series in EXPECTED["kpi_values"].items():
        for series, by_member in by_series.items():
            for member, (status, value, disclosure) in by_member.items():
                yield kpi_id, series, member, status, value, disclosure


@pytest.mark.parametrize("kpi_id,series,member,status,value,disclosure", list(expected_kpi_rows()))
def test_kpi_value(fixture_cycle, kpi_id, series, member, status, value, disclosure):
    settings, _ = fixture_cycle
    rows = query(
        settings,
        "SELECT status, value, disclosure, reporting_year FROM kpi.kpi_values"
        " WHERE cycle = '2023' AND kpi_id = ? AND series = ? AND member_code = ?",
        [kpi_id, series, member],
    )
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.status, row.disclosure, row.reporting_year) == (status, disclosure, 2022)
    assert same_number(None if pd.isna(row.value) else float(row.value), value)


def test_non_participants_have_no_kpi_rows(fixture_cycle):
    settings, _ = fixture_cycle
    members = query(settings, "SELECT DISTINCT member_code FROM kpi.kpi_values WHERE cycle = '2023'")
    assert sorted(members.member_code) == EXPECTED["participating"]


def test_every_kpi_of_the_cycle_has_a_row_per_member_and_series(fixture_cycle):
    from pmm_pipeline.specs.catalogue.load import load_catalogue

    settings, _ = fixture_cycle
    catalogue = load_catalogue(settings.specs_dir)
    series = [(k.id, s.id) for k in catalogue.kpis_for_version("1.0") for s in k.series]
    counts = query(
        settings, "SELECT kpi_id, series, count(*) AS n FROM kpi.kpi_values WHERE cycle = '2023' GROUP BY ALL"
    )
    assert sorted(zip(counts.kpi_id, counts.series, strict=True)) == sorted(series)
    assert set(counts.n) == {len(EXPECTED["participating"])}


def expected_rollup_rows():
    for kpi_id, by_series in EXPECTED["rollups"].items():
        for series, by_group in by_series.items():
            for group, stats in by_group.items():
                yield kpi_id, series, group, stats


@pytest.mark.parametrize("kpi_id,series,group,stats", list(expected_rollup_rows()))
def test_rollup(fixture_cycle, kpi_id, series, group, stats):
    settings, _ = fixture_cycle
    group_type, group_code = group.split(":")
    rows = query(
        settings,
        "SELECT n_reporting, n_participating, mean, median, min, max, pooled FROM rollup.rollups"
        " WHERE cycle = '2023' AND kpi_id = ? AND series = ? AND group_type = ? AND group_code = ?",
        [kpi_id, series, group_type, group_code],
    )
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (int(row.n_reporting), int(row.n_participating)) == tuple(stats[:2])
    for name, expected in zip(["mean", "median", "min", "max", "pooled"], stats[2:], strict=True):
        actual = None if pd.isna(row[name]) else float(row[name])
        assert same_number(actual, expected), f"{name}: {actual} != {expected}"


def test_groups_without_participants_have_no_rollup_rows(fixture_cycle):
    settings, _ = fixture_cycle
    groups = query(settings, "SELECT DISTINCT group_type, group_code FROM rollup.rollups WHERE cycle = '2023'")
    assert ("region", "AMS") not in set(zip(groups.group_type, groups.group_code, strict=True))
    assert set(groups.group_type) == {"global", "region", "income_group", "landlocked", "admin_type"}


def test_secretariat_release_matches_the_warehouse(fixture_cycle):
    from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

    settings, result = fixture_cycle
    tier_dir = settings.layout.published_dir("2023") / "secretariat"
    manifest = json.loads((tier_dir / "manifest.json").read_text())
    assert manifest["cycle"] == "2023" and manifest["run_id"] == result.run_id
    assert manifest["catalogue_version"] == "1.0" and len(manifest["catalogue_digest"]) == 64
    kpi_csv = pd.read_csv(tier_dir / "kpi_values.csv", keep_default_na=False, na_values=[""])
    assert list(kpi_csv.columns) == PUBLISHED_KPI_COLUMNS
    rollups = pd.read_parquet(tier_dir / "rollups.parquet")
    assert list(rollups.columns) == PUBLISHED_ROLLUP_COLUMNS
    warehouse_kpis = query(settings, "SELECT * FROM kpi.kpi_values WHERE cycle = '2023'")
    assert manifest["files"]["kpi_values.csv"]["rows"] == len(kpi_csv) == len(warehouse_kpis)
    reported = kpi_csv[kpi_csv.status == "reported"].set_index(["kpi_id", "series", "member_code"]).value
    for row in warehouse_kpis[warehouse_kpis.status == "reported"].itertuples():
        assert reported[(row.kpi_id, row.series, row.member_code)] == row.value  # unrounded, bit for bit


def test_rerun_gives_identical_data_and_keeps_receipt_times(fixture_cycle_copy):
    settings, _ = fixture_cycle_copy
    tier_dir = settings.layout.published_dir("2023") / "secretariat"
    before_files = {
        p.name: p.read_bytes() for p in tier_dir.iterdir() if p.name not in ("manifest.json", "changes.json")
    }
    before_received = query(settings, "SELECT sha256, file_name, received_at FROM raw.received_files ORDER BY ALL")
    # Without its reuse records every step computes and releases again (a re-run would otherwise reuse them).
    shutil.rmtree(settings.data_dir / "reuse")
    assert run_cycle_in_process(settings, "2023").success
    after_files = {
        p.name: p.read_bytes() for p in tier_dir.iterdir() if p.name not in ("manifest.json", "changes.json")
    }
    assert after_files == before_files
    after_received = query(settings, "SELECT sha256, file_name, received_at FROM raw.received_files ORDER BY ALL")
    pd.testing.assert_frame_equal(before_received, after_received)
    assert len(query(settings, "SELECT * FROM publish_secretariat.releases WHERE cycle = '2023'")) == 2


@pytest.mark.cycle
def test_a_file_removed_from_landing_stays_on_record(tmp_path):
    import shutil

    from pmm_pipeline_tests.conftest import settings_for

    landing = tmp_path / "landing" / "2023"
    shutil.copytree(FIXTURES / "cycle_2023" / "landing", landing)
    settings = settings_for(tmp_path)
    assert run_cycle_in_process(settings, "2023").success
    (landing / "KEN_v2.json").unlink()
    (landing / "BRA.json").unlink()
    assert run_cycle_in_process(settings, "2023").success
    versions = query(
        settings, "SELECT file_name, is_latest FROM raw.submissions WHERE member_code = 'KEN' ORDER BY version"
    )
    assert list(versions.file_name) == ["KEN_v1.json", "KEN_v2.json"] and list(versions.is_latest) == [False, True]
    rejected = query(settings, "SELECT file_name FROM raw.rejections WHERE cycle = '2023'")
    assert "BRA.json" in set(rejected.file_name)
    value = query(
        settings,
        "SELECT value FROM kpi.kpi_values WHERE kpi_id = 'electronic_declaration_rate' AND member_code = 'KEN'",
    )
    assert list(value.value) == [95.0]


def test_a_copy_of_the_shared_run_is_apart_from_it(fixture_cycle, fixture_cycle_copy, request):
    shared, _ = fixture_cycle
    copy, _ = fixture_cycle_copy
    assert request.node.get_closest_marker("cycle") and not request.node.get_closest_marker("unit")
    (copy.layout.published_dir("2023") / "public" / "kpi_values.csv").write_text("changed")
    assert (shared.layout.published_dir("2023") / "public" / "kpi_values.csv").read_text() != "changed"
    assert copy.layout.warehouse_path.read_bytes()[:4096] == shared.layout.warehouse_path.read_bytes()[:4096]


def test_each_declared_row_key_tells_the_rows_of_a_cycle_apart(fixture_cycle):
    """Every table declares its row key (warehouse/tables/), or why it has none; the key is what the stages join,
    compare and index its rows by, and what its asset's row-key check checks: in the cycle's warehouse, no two rows
    share one. Every keyed table the cycle writes holds rows of the cycle here (the questionnaires are written by
    the opening of a cycle, not by its run)."""
    from pmm_pipeline.orchestration.key_checks import KEY_CHECK_NAMES
    from pmm_pipeline.warehouse.tables import QUESTIONNAIRES, declared_tables

    settings, result = fixture_cycle
    every = declared_tables()
    # That every table declares a key or why it has none is a unit test (orchestration/test_key_checks.py).
    assert {t.qualified for t in every if not t.row_key} == {"quality.findings"}
    keyed = [t for t in every if t.row_key and t is not QUESTIONNAIRES]
    for table in keyed:
        key = ", ".join(table.row_key)
        repeated = query(
            settings,
            f"SELECT {key}, count(*) AS n FROM {table.qualified} WHERE cycle = '2023' GROUP BY ALL HAVING n > 1",
        )
        rows = query(settings, f"SELECT count(*) AS n FROM {table.qualified} WHERE cycle = '2023'").n[0]
        assert rows > 0 and repeated.empty, (table.qualified, repeated.head().to_dict("records"))
    # ... and the run's own row-key check of each said so.
    checked = {
        ".".join(e.asset_key.path): e.passed
        for e in result.get_asset_check_evaluations()
        if e.check_name in KEY_CHECK_NAMES
    }
    assert checked == {t.qualified: True for t in keyed}
