"""The cycle calendar: schedule ticks at the configured dates of cycles 2023 and 2025 give the expected runs.

Every date below is copied by hand from pmm_pipeline/specs/reference/cycles.yaml (or from the cycles file
written in the test), never computed by the code under test.
"""

import datetime as dt
from dataclasses import replace

import dagster as dg
import pandas as pd
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.specs.reference.load import ReferenceError, load_cycles
from pmm_pipeline.stages.ingestion.freeze import input_deadline, mark_versions_in_use

UTC = dt.UTC


def at(year, month, day, hour=6, minute=0, tz=UTC) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz)


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(Settings.from_env({"PMM_DATA_DIR": str(tmp_path_factory.mktemp("data"))}))


def tick(defs: dg.Definitions, schedule_name: str, moment: dt.datetime):
    schedule = defs.resolve_schedule_def(schedule_name)
    context = dg.build_schedule_context(scheduled_execution_time=moment, repository_def=defs.get_repository_def())
    return schedule.evaluate_tick(context)


def launched(defs, schedule_name, moment) -> list[tuple[str, str, str, str]]:
    """(job, cycle partition, calendar event, as-of day) of each run the tick requests."""
    return [
        (r.job_name, r.partition_key, r.tags["pmm/calendar_event"], r.tags["pmm/as_of"])
        for r in tick(defs, schedule_name, moment).run_requests
    ]


# (schedule, tick time, expected runs) at the dates of cycles.yaml:
# 2023: opens 2023-12-01, closes 2024-03-31, publication 2025-01-15;
# 2025: opens 2025-12-01, closes 2026-03-31, publication 2027-01-15. Calendar: UTC, 06:00.
CALENDAR_TICKS = [
    ("opening_questionnaires_schedule", at(2023, 12, 1), [("questionnaires_job", "2023", "opening", "2023-12-01")]),
    ("opening_questionnaires_schedule", at(2025, 12, 1), [("questionnaires_job", "2025", "opening", "2025-12-01")]),
    ("opening_questionnaires_schedule", at(2024, 12, 1), []),  # same day, a year without an opening
    ("daily_collection_schedule", at(2023, 12, 1), [("collection_job", "2023", "daily", "2023-12-01")]),
    ("daily_collection_schedule", at(2024, 2, 29), [("collection_job", "2023", "daily", "2024-02-29")]),
    ("daily_collection_schedule", at(2024, 3, 31), [("collection_job", "2023", "daily", "2024-03-31")]),
    ("daily_collection_schedule", at(2024, 4, 1), []),
    ("daily_collection_schedule", at(2023, 11, 30), []),
    ("daily_collection_schedule", at(2026, 1, 20), [("collection_job", "2025", "daily", "2026-01-20")]),
    ("daily_collection_schedule", at(2026, 4, 1), []),
    ("closing_freeze_schedule", at(2024, 4, 1), [("collection_job", "2023", "closing", "2024-04-01")]),
    ("closing_freeze_schedule", at(2026, 4, 1), [("collection_job", "2025", "closing", "2026-04-01")]),
    ("closing_freeze_schedule", at(2025, 4, 1), []),
    ("publication_release_schedule", at(2025, 1, 15), [("cycle_job", "2023", "publication", "2025-01-15")]),
    ("publication_release_schedule", at(2027, 1, 15), [("cycle_job", "2025", "publication", "2027-01-15")]),
    ("publication_release_schedule", at(2026, 1, 15), []),
]


@pytest.mark.parametrize("schedule_name,moment,expected", CALENDAR_TICKS)
def test_ticks_at_the_configured_dates(defs, schedule_name, moment, expected):
    assert launched(defs, schedule_name, moment) == expected


def test_a_tick_without_a_cycle_says_why(defs):
    result = tick(defs, "publication_release_schedule", at(2026, 1, 15))
    assert result.run_requests == []
    assert "2026-01-15" in result.skip_message and "2023 on 2025-01-15" in result.skip_message
    result = tick(defs, "daily_collection_schedule", at(2024, 6, 1))
    assert "2023: 2023-12-01 to 2024-03-31" in result.skip_message


def test_runs_carry_the_cycle_tag_and_are_launched_once_per_day(defs):
    (request,) = tick(defs, "daily_collection_schedule", at(2024, 1, 15)).run_requests
    assert request.tags["pmm/cycle"] == "2023" and request.tags["dagster/partition"] == "2023"
    assert request.run_key == "daily:2023:2024-01-15"
    (again,) = tick(defs, "daily_collection_schedule", at(2024, 1, 15, hour=23)).run_requests
    assert again.run_key == request.run_key  # a re-evaluated tick does not launch a second run


def test_cron_expressions_come_from_the_dates(defs):
    crons = {name: defs.resolve_schedule_def(name).cron_schedule for name, _, _ in CALENDAR_TICKS}
    assert crons == {
        "opening_questionnaires_schedule": ["0 6 1 12 *"],  # both cycles open on 1 December
        "daily_collection_schedule": ["0 6 * * *"],
        "closing_freeze_schedule": ["0 6 1 4 *"],
        "publication_release_schedule": ["0 6 15 1 *"],
    }
    for name in crons:
        assert defs.resolve_schedule_def(name).execution_timezone == "UTC"
        assert defs.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.RUNNING


def test_every_scheduled_job_exists_and_is_partitioned_by_cycle(defs):
    for name in ("cycle_job", "collection_job", "questionnaires_job"):
        job = defs.resolve_job_def(name)
        # One partition per configured cycle, in the file's order (2027 is the one collecting in December 2026).
        assert job.partitions_def.get_partition_keys() == ["2023", "2025", "2027"]
        assert job.partitioned_config.get_tags_for_partition_key("2025")["pmm/cycle"] == "2025"


MOVED_CYCLES = """\
timezone: Europe/Brussels
run_at: "07:30"
cycles:
  - id: "2023"
    reporting_year: 2022
    collection: {opens: 2023-11-15, closes: 2024-02-29}
    publication_date: 2025-02-03
    catalogue_version: "1.0"
    reopened_until: 2024-03-10
  - id: "2025"
    reporting_year: 2024
    collection: {opens: 2025-12-01, closes: 2026-03-31}
    publication_date: 2027-01-15
    catalogue_version: "1.1"
"""


@pytest.fixture(scope="module")
def moved_defs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moved")
    (folder / "cycles.yaml").write_text(MOVED_CYCLES)
    settings = replace(Settings.from_env({"PMM_DATA_DIR": str(folder / "data")}), cycles_file=folder / "cycles.yaml")
    return build_definitions(settings)


BRUSSELS = dt.timezone(dt.timedelta(hours=1))  # CET, no daylight saving in these winter dates
BRUSSELS_SUMMER = dt.timezone(dt.timedelta(hours=2))


OPENING_2023 = ("questionnaires_job", "2023", "opening", "2023-11-15")
DAILY_2023 = ("collection_job", "2023", "daily", "2024-03-05")
CLOSING_2023 = ("collection_job", "2023", "closing", "2024-03-11")
CLOSING_2025 = ("collection_job", "2025", "closing", "2026-04-01")
PUBLICATION_2023 = ("cycle_job", "2023", "publication", "2025-02-03")


def test_moving_a_date_in_the_configuration_moves_the_runs(moved_defs):
    crons = {n: moved_defs.resolve_schedule_def(n).cron_schedule for n, _, _ in CALENDAR_TICKS}
    assert crons == {
        "opening_questionnaires_schedule": ["30 7 15 11 *", "30 7 1 12 *"],
        "daily_collection_schedule": ["30 7 * * *"],
        "closing_freeze_schedule": ["30 7 11 3 *", "30 7 1 4 *"],  # 2023 reopened until 10 March
        "publication_release_schedule": ["30 7 15 1 *", "30 7 3 2 *"],
    }
    assert moved_defs.resolve_schedule_def("daily_collection_schedule").execution_timezone == "Europe/Brussels"
    expected = [
        ("opening_questionnaires_schedule", at(2023, 11, 15, 7, 30, BRUSSELS), [OPENING_2023]),
        ("opening_questionnaires_schedule", at(2023, 12, 1, 7, 30, BRUSSELS), []),
        # the reopening extends the daily runs and moves the closing run
        ("daily_collection_schedule", at(2024, 3, 5, 7, 30, BRUSSELS), [DAILY_2023]),
        ("daily_collection_schedule", at(2024, 3, 11, 7, 30, BRUSSELS), []),
        ("closing_freeze_schedule", at(2024, 3, 1, 7, 30, BRUSSELS), []),
        ("closing_freeze_schedule", at(2024, 3, 11, 7, 30, BRUSSELS), [CLOSING_2023]),
        ("closing_freeze_schedule", at(2026, 4, 1, 7, 30, BRUSSELS_SUMMER), [CLOSING_2025]),
        ("publication_release_schedule", at(2025, 2, 3, 7, 30, BRUSSELS), [PUBLICATION_2023]),
        ("publication_release_schedule", at(2025, 1, 15, 7, 30, BRUSSELS), []),
    ]
    for schedule_name, moment, runs in expected:
        assert launched(moved_defs, schedule_name, moment) == runs, (schedule_name, moment)


def test_the_calendar_day_is_taken_in_the_calendar_time_zone(moved_defs):
    # 23:30 UTC on 14 November is already 15 November in Brussels: the opening day of 2023.
    assert launched(moved_defs, "opening_questionnaires_schedule", at(2023, 11, 14, 23, 30)) == [
        ("questionnaires_job", "2023", "opening", "2023-11-15")
    ]


@pytest.mark.parametrize(
    "change,fragment",
    [
        (("reopened_until: 2024-03-10", "reopened_until: 2024-02-01"), "reopened_until is before collection.closes"),
        (("timezone: Europe/Brussels", "timezone: Europe/Atlantis"), "not an IANA time zone"),
        (('run_at: "07:30"', "run_at: 10:30"), "write the time of day in quotes"),  # YAML reads 10:30 as 630
        (('run_at: "07:30"', 'run_at: "25:00"'), "run_at"),
        (("    reopened_until: 2024-03-10\n", "    reopened_untill: 2024-03-10\n"), "reopened_untill"),
    ],
)
def test_bad_calendar_settings_name_the_file_and_field(tmp_path, change, fragment):
    path = tmp_path / "cycles.yaml"
    assert change[0] in MOVED_CYCLES
    path.write_text(MOVED_CYCLES.replace(*change))
    with pytest.raises(ReferenceError) as err:
        load_cycles(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_the_shipped_cycles_file_keeps_its_meaning():
    cycles = load_cycles(Settings.from_env({}).cycles_file)
    cycle = cycles.get("2023")
    assert cycles.timezone == "UTC" and cycles.run_at == dt.time(6, 0)
    assert cycle.reopened_until is None
    assert cycles.closes_at(cycle) == dt.datetime(2024, 4, 1, tzinfo=UTC)
    assert cycles.inputs_frozen_at(cycle) == dt.datetime(2024, 4, 1, tzinfo=UTC)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_lateness_and_the_freeze_follow_midnight_in_the_calendar_zone(tmp_path):
    path = tmp_path / "cycles.yaml"
    path.write_text(MOVED_CYCLES)
    # 2023 closes 2024-02-29 and is reopened until 2024-03-10, in Brussels (UTC+1 then):
    # late from 2024-02-29 23:00 UTC, frozen from 2024-03-10 23:00 UTC.
    deadline = input_deadline(load_cycles(path), "2023")
    assert (deadline.closes_at, deadline.frozen_at) == (utc(2024, 2, 29, 23), utc(2024, 3, 10, 23))
    versions = pd.DataFrame(
        [
            ("KEN", 1, utc(2024, 2, 29, 22, 59, 59)),
            ("KEN", 2, utc(2024, 2, 29, 23)),
            ("KEN", 3, utc(2024, 3, 10, 23)),
            ("DEU", 1, utc(2024, 3, 12)),
        ],
        columns=["member_code", "version", "received_at"],
    )
    marked = mark_versions_in_use(versions, first_intake_at=utc(2024, 1, 5), deadline=deadline)
    assert marked[["is_late", "is_frozen_out", "is_latest"]].values.tolist() == [
        [False, False, False],
        [True, False, True],  # late, but the cycle was reopened
        [True, True, False],  # after the reopening: kept, not used
        [True, True, False],  # DEU has no version in use
    ]
    # Taken in for the first time after the freeze: the first intake stands for the closing state.
    first = mark_versions_in_use(versions.iloc[3:], first_intake_at=utc(2024, 3, 12), deadline=deadline)
    assert first[["is_late", "is_frozen_out", "is_latest"]].values.tolist() == [[True, False, True]]
