"""What the calendar's runs do: questionnaires at opening, the daily list, the freeze at closing, the release.

The freeze scenario uses the hand-made submissions of fixtures/cycle_2023 (cycle 2023 closes on
2024-03-31): KEN_v1 and DEU seen during the window, KEN_v2 arriving after closing. Expected figures
are worked out by hand from those files and from members.csv (185 members in force for 2023, 24 of
them in region ESA and 52 in EUR; 186 for 2025: 138 answer in English, 27 in French, 21 in Spanish).
"""

import datetime as dt
import shutil
from dataclasses import replace

import dagster as dg
import pytest
import yaml

from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.receipts import (
    LedgerState,
    append_to_ledger,
    ledger_path,
    ledger_updates,
    read_ledger,
)
from pmm_pipeline.stages.sample.generate import generate_sample
from pmm_pipeline.warehouse.connection import open_warehouse
from pmm_pipeline_tests.conftest import FIXTURES, settings_for, slow_fixture

FIXTURE_LANDING = FIXTURES / "cycle_2023" / "landing"


def run_job(settings, job_name, cycle, instance, tags=None):
    job = build_definitions(settings).resolve_job_def(job_name)
    result = job.execute_in_process(partition_key=cycle, instance=instance, tags=tags or {}, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def rows(settings, sql, params=()):
    with open_warehouse(settings.layout.warehouse_path) as conn:
        return conn.execute(sql, list(params)).fetchall()


def versions(settings):
    return rows(
        settings,
        "SELECT file_name, version, is_latest, is_late, is_frozen_out FROM raw.submissions"
        " WHERE cycle = '2023' ORDER BY member_code, version",
    )


COMPLETENESS_COLUMNS = (
    "members_expected, members_received, members_received_on_time, members_participating, members_outstanding,"
    " versions_late, versions_frozen_out, members_opting_out, kpis_opted_out"
)


def completeness(settings, group_code):
    (row,) = rows(
        settings,
        f"SELECT {COMPLETENESS_COLUMNS} FROM collection.completeness WHERE cycle = '2023' AND group_code = ?",
        [group_code],
    )
    return row


def kpi(settings, member, kpi_id):
    (row,) = rows(
        settings,
        "SELECT status, value FROM kpi.kpi_values WHERE cycle = '2023' AND member_code = ? AND kpi_id = ?",
        [member, kpi_id],
    )
    return row


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def freeze_scenario(tmp_path_factory):
    """Cycle 2023 through three collection runs; yields the settings and a snapshot after each."""
    root = tmp_path_factory.mktemp("freeze")
    landing = root / "data" / "landing" / "2023"
    landing.mkdir(parents=True)
    for name in ("DEU.json", "KEN_v1.json", "BRA_truncated.json"):
        shutil.copy(FIXTURE_LANDING / name, landing / name)
    settings = settings_for(root / "data")
    instance = dg.DagsterInstance.ephemeral()
    snapshots = {}

    def snapshot(name):
        snapshots[name] = {
            "versions": versions(settings),
            "global": completeness(settings, "all"),
            "ESA": completeness(settings, "ESA"),
            "EUR": completeness(settings, "EUR"),
            "KEN electronic_declaration_rate": kpi(settings, "KEN", "electronic_declaration_rate"),
            "KEN pca_effectiveness": kpi(settings, "KEN", "pca_effectiveness"),
            "staged KEN declarations_electronic": rows(
                settings,
                "SELECT value FROM staging.answers WHERE cycle = '2023' AND member_code = 'KEN'"
                " AND item = 'declarations_electronic'",
            ),
            "outstanding": rows(
                settings,
                "SELECT member_code, has_rejected_files, listed_on, closes_on, days_left"
                " FROM collection.outstanding_members WHERE cycle = '2023' ORDER BY member_code",
            ),
        }

    # 1. A past cycle taken in for the first time, long after its closing (a new warehouse).
    run_job(settings, "collection_job", "2023", instance, {"pmm/as_of": "2024-03-25"})
    snapshot("first intake after closing")

    # 2. Those files were in fact first seen during the window; then a resubmission arrives late.
    # Receipt times live in the receipt ledger beside the archive (not in the warehouse): rewrite them there,
    # to a day after every file's own submission date (a file dated after its receipt is bad_timestamp).
    # Written anew through the ledger's own functions: an edit in place breaks its chain and stops the intake.
    ledger = ledger_path(settings.layout.archive_dir, "2023")
    seen_at = dt.datetime(2024, 3, 20, 10, tzinfo=dt.UTC)
    redated = [replace(r, received_at=seen_at) for r in read_ledger(ledger).receipts.values()]
    ledger.unlink()
    append_to_ledger(ledger, ledger_updates(LedgerState(), redated, seen_at))
    # The warehouse's copy of those receipts is faked alike: a ledger disagreeing with it stops the intake.
    with open_warehouse(settings.layout.warehouse_path) as conn:
        conn.execute(
            "UPDATE raw.received_files SET received_at = ? WHERE cycle = '2023'",
            [dt.datetime(2024, 3, 20, 10, tzinfo=dt.UTC)],
        )
    shutil.copy(FIXTURE_LANDING / "KEN_v2.json", landing / "KEN_v2.json")
    run_job(settings, "collection_job", "2023", instance, {"pmm/as_of": "2024-03-25"})
    snapshot("late file")

    # 3. The Secretariat reopens the cycle until today: the late file is used.
    today = dt.datetime.now(dt.UTC).date()
    cycles = yaml.safe_load(settings.cycles_file.read_text())
    cycles["cycles"][0]["reopened_until"] = today.isoformat()
    reopened_file = root / "cycles_reopened.yaml"
    reopened_file.write_text(yaml.safe_dump(cycles))
    reopened = replace(settings, cycles_file=reopened_file)
    run_job(reopened, "collection_job", "2023", instance, {"pmm/as_of": today.isoformat()})
    snapshot("reopened")
    yield settings, snapshots, today


def test_a_past_cycle_first_taken_in_after_closing_uses_what_it_finds(freeze_scenario):
    _, snapshots, _ = freeze_scenario
    state = snapshots["first intake after closing"]
    # file, version, is_latest, is_late, is_frozen_out
    assert state["versions"] == [("DEU.json", 1, True, True, False), ("KEN_v1.json", 1, True, True, False)]
    # expected, received, on time, participating, outstanding, versions late, frozen out, opting out, KPIs opted out
    assert state["global"] == (185, 2, 0, 2, 183, 2, 0, 0, 0)


def test_a_file_arriving_after_closing_is_kept_but_not_used(freeze_scenario):
    settings, snapshots, _ = freeze_scenario
    state = snapshots["late file"]
    assert state["versions"] == [
        ("DEU.json", 1, True, False, False),
        ("KEN_v1.json", 1, True, False, False),
        ("KEN_v2.json", 2, False, True, True),
    ]
    assert state["staged KEN declarations_electronic"] == [(900.0,)]  # v1's answer, not v2's 950
    assert state["KEN electronic_declaration_rate"] == ("reported", 90.0)  # 100 * 900 / 1000
    assert state["KEN pca_effectiveness"] == ("missing", None)  # v1 has no PCA answers
    assert state["global"] == (185, 2, 2, 2, 183, 1, 1, 0, 0)
    assert state["ESA"] == (24, 1, 1, 1, 23, 1, 1, 0, 0)
    assert state["EUR"] == (52, 1, 1, 1, 51, 0, 0, 0, 0)
    # recorded and kept: in the received files, the raw answers and the archive
    (received,) = rows(settings, "SELECT outcome FROM raw.received_files WHERE file_name = 'KEN_v2.json'")
    assert received == ("accepted",)
    (sha,) = rows(settings, "SELECT submission_id FROM raw.submissions WHERE file_name = 'KEN_v2.json'")[0]
    archived = settings.layout.archive_dir / sha[:2] / f"{sha}.json"
    assert archived.read_bytes() == (FIXTURE_LANDING / "KEN_v2.json").read_bytes()
    assert rows(settings, "SELECT count(*) FROM raw.answers WHERE submission_id = ?", [sha]) == [(11,)]


def test_reopening_the_cycle_uses_the_late_file(freeze_scenario):
    _, snapshots, _ = freeze_scenario
    state = snapshots["reopened"]
    assert state["versions"] == [
        ("DEU.json", 1, True, False, False),
        ("KEN_v1.json", 1, False, False, False),
        ("KEN_v2.json", 2, True, True, False),  # still late, no longer frozen out
    ]
    assert state["KEN electronic_declaration_rate"] == ("reported", 95.0)  # 100 * 950 / 1000
    assert state["KEN pca_effectiveness"] == ("not_applicable", None)
    assert state["global"] == (185, 2, 2, 2, 183, 1, 0, 1, 1)
    assert state["ESA"] == (24, 1, 1, 1, 23, 1, 0, 1, 1)


def test_the_daily_list_names_who_has_not_submitted(freeze_scenario):
    _, snapshots, today = freeze_scenario
    listed = snapshots["late file"]["outstanding"]
    assert len(listed) == 183
    assert {"KEN", "DEU"}.isdisjoint(code for code, *_ in listed)
    by_member = {code: rest for code, *rest in listed}
    # BRA sent only a broken file: still outstanding, and the list says a file was rejected.
    assert by_member["BRA"] == [True, dt.date(2024, 3, 25), dt.date(2024, 3, 31), 6]
    assert by_member["CHL"] == [False, dt.date(2024, 3, 25), dt.date(2024, 3, 31), 6]
    reopened = {code: rest for code, *rest in snapshots["reopened"]["outstanding"]}
    assert reopened["CHL"] == [False, today, today, 0]


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def calendar_runs(tmp_path_factory):
    """Cycle 2025's opening and a day of its window evaluated at their dates and their runs executed.

    The closing tick launches the same job as the daily one, the publication tick the cycle job of
    test_cycle_pipeline; test_schedules checks their run requests."""
    root = tmp_path_factory.mktemp("calendar")
    settings = settings_for(root / "data")
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    generate_sample(
        reference=reference,
        catalogue=load_catalogue(settings.specs_dir),
        cycle_id="2025",
        landing_dir=settings.layout.landing_dir("2025"),
        members=8,
        seed=5,
    )
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    ticks = [
        ("opening_questionnaires_schedule", dt.datetime(2025, 12, 1, 6, tzinfo=dt.UTC)),
        ("daily_collection_schedule", dt.datetime(2026, 1, 20, 6, tzinfo=dt.UTC)),
    ]
    runs = {}
    for name, moment in ticks:
        context = dg.build_schedule_context(scheduled_execution_time=moment, repository_def=defs.get_repository_def())
        (request,) = defs.resolve_schedule_def(name).evaluate_tick(context).run_requests
        result = defs.resolve_job_def(request.job_name).execute_in_process(
            partition_key=request.partition_key, tags=request.tags, instance=instance, raise_on_error=False
        )
        assert result.success, (name, [e.message for e in result.all_events if e.is_failure])
        runs[name] = (
            result,
            rows(settings, "SELECT listed_on, days_left FROM collection.outstanding_members LIMIT 1")
            if request.job_name == "collection_job"
            else None,
        )
    yield settings, runs


def test_opening_writes_every_members_questionnaire_in_its_language(calendar_runs):
    settings, _ = calendar_runs
    folder = settings.layout.published_dir("2025") / "questionnaires"
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 186
    assert {"FRA_2025_fr.xlsx", "ARG_2025_es.xlsx", "KEN_2025_en.xlsx", "SEN_2025_fr.xlsx"} <= set(files)
    assert all((folder / f).read_bytes()[:2] == b"PK" for f in files)  # xlsx files are zip archives
    by_language = dict(rows(settings, "SELECT language, count(*) FROM collection.questionnaires GROUP BY 1"))
    assert by_language == {"en": 138, "fr": 27, "es": 21}


def test_calendar_runs_are_tagged_and_do_their_part(calendar_runs):
    settings, runs = calendar_runs
    opening, _ = runs["opening_questionnaires_schedule"]
    assert opening.dagster_run.tags["pmm/cycle"] == "2025"
    assert opening.dagster_run.tags["pmm/calendar_event"] == "opening"
    assert opening.dagster_run.tags["dagster/schedule_name"] == "opening_questionnaires_schedule"
    materialized = {e.asset_key.to_user_string() for e in opening.get_asset_materialization_events()}
    assert materialized == {"collection/questionnaires"}

    daily, listed = runs["daily_collection_schedule"]
    assert daily.dagster_run.tags["pmm/calendar_event"] == "daily"
    assert listed == [(dt.date(2026, 1, 20), 70)]  # 11 + 28 + 31 days to 31 March
    daily_assets = {e.asset_key.to_user_string() for e in daily.get_asset_materialization_events()}
    assert {"raw/submissions", "collection/outstanding_members", "feedback/member_reports"} <= daily_assets
    assert not any(key.startswith("publish_") for key in daily_assets)  # nothing is published during the window
    assert not settings.layout.published_dir("2025").joinpath("secretariat").exists()
