"""A member blocked by the quality gate, or the only member of a group, never stops disclosure or publication.

UGA is the only landlocked administration of the fixture. Blocked, its group (`landlocked/true`) has
participants (staging.participation) but no KPI values and no rollup rows: every step must take a
group present in one table and absent from another as empty.
"""

import json
import shutil

import duckdb
import pytest

from pmm_pipeline_tests.conftest import FIXTURES, run_cycle_in_process, settings_for, slow_fixture

LANDING = FIXTURES / "cycle_2023" / "landing"


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def blocked_lone_member(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    shutil.copytree(LANDING, data_dir / "landing" / "2023")
    uga = data_dir / "landing" / "2023" / "UGA.json"
    # A part above its whole is a blocking finding: UGA is not admitted.
    uga.write_text(
        uga.read_text().replace(
            '{"item": "declarations_electronic", "year": 2022, "value": 0}',
            '{"item": "declarations_electronic", "year": 2022, "value": 5}',
        )
    )
    settings = settings_for(data_dir)
    return settings, run_cycle_in_process(settings, "2023")


def test_the_run_succeeds_and_every_tier_is_released(blocked_lone_member):
    settings, result = blocked_lone_member
    assert result.success
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        admitted = conn.execute(
            "SELECT is_admitted FROM quality.member_summary WHERE cycle = '2023' AND member_code = 'UGA'"
        ).fetchall()
        lone = conn.execute(
            "SELECT count(*) FROM rollup.rollups WHERE cycle = '2023' AND group_type = 'landlocked'"
            " AND group_code = 'true'"
        ).fetchall()
    assert admitted == [(False,)] and lone == [(0,)]  # the case this test is about
    for tier in ("public", "wco", "secretariat"):
        manifest = json.loads((settings.layout.published_dir("2023") / tier / "manifest.json").read_text())
        assert manifest["tier"] == tier


def test_every_release_is_on_record_outside_the_served_folders_and_a_rerun_adds_nothing(blocked_lone_member):
    settings, _ = blocked_lone_member
    published = settings.layout.published_dir("2023")
    records = {tier: sorted((published / "record" / tier).glob("*.json")) for tier in ("public", "wco")}
    assert all(len(files) == 1 for files in records.values())
    for tier in ("public", "wco", "secretariat"):  # the record holds hidden values: never in a served folder
        assert not [p for p in (published / tier).rglob("*") if "record" in p.parts]
    record = json.loads(records["public"][0].read_text())
    rate = next(s for s in record["series"] if s["kpi_id"] == "electronic_declaration_rate")
    assert rate["values"]["DEU"][2] == "wco" and "DEU" not in rate["shown"]  # hidden from public, on record
    before = {p.name: p.read_bytes() for p in (published / "public").iterdir() if p.name.endswith(".csv")}
    assert run_cycle_in_process(settings, "2023").success
    assert {tier: sorted((published / "record" / tier).glob("*.json")) for tier in ("public", "wco")} == records
    assert {p.name: p.read_bytes() for p in (published / "public").iterdir() if p.name.endswith(".csv")} == before


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def blocked_lone_administration(tmp_path_factory):
    """KEN blocked beside DEU and FRA: the only member of its admin_type, region and income group all at once."""
    data_dir = tmp_path_factory.mktemp("data")
    landing = data_dir / "landing" / "2023"
    landing.mkdir(parents=True)
    for name in ("DEU.json", "FRA.json"):
        shutil.copy(LANDING / name, landing / name)
    ken = json.loads((LANDING / "KEN_v2.json").read_text())
    for answer in ken["answers"]:
        if answer["item"] == "declarations_electronic":
            answer["value"] = 5000  # above declarations_total: a blocking finding
    (landing / "KEN_v2.json").write_text(json.dumps(ken))
    settings = settings_for(data_dir)
    return settings, run_cycle_in_process(settings, "2023")


def test_a_blocked_lone_member_of_every_group_type_stops_no_tier(blocked_lone_administration):
    settings, result = blocked_lone_administration
    assert result.success
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        admitted = conn.execute(
            "SELECT is_admitted FROM quality.member_summary WHERE cycle = '2023' AND member_code = 'KEN'"
        ).fetchall()
        groups = conn.execute(
            "SELECT DISTINCT group_type, group_code FROM rollup.rollups WHERE cycle = '2023'"
            " AND (group_type, group_code) IN (('admin_type', 'revenue_authority'), ('region', 'ESA'),"
            " ('income_group', 'lower_middle'))"
        ).fetchall()
    assert admitted == [(False,)] and groups == []  # KEN's groups have participants and no rollup row
    for tier in ("public", "wco", "secretariat"):
        manifest = json.loads((settings.layout.published_dir("2023") / tier / "manifest.json").read_text())
        assert manifest["tier"] == tier
