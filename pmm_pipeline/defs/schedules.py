"""Schedules generated from the cycles configuration: moving a date in cycles.yaml moves the runs.

Four schedules follow the calendar of every configured cycle (days in the calendar's time zone,
runs at its `run_at` time):
- `opening_questionnaires_schedule`: on `collection.opens`, questionnaires for every expected member;
- `daily_collection_schedule`: every day of the window (and of a reopening), take in what arrived
  and list the members who have not submitted yet;
- `closing_freeze_schedule`: the day after the window, a last intake and the final collection
  status; from then on a newly arriving file is recorded and kept but not used (stages/ingestion/freeze.py);
- `publication_release_schedule`: on `publication_date`, the whole cycle and its release.
Cron expressions cannot say a year, so each schedule ticks on the configured month and day and its
evaluation keeps only the cycles whose date is that very day; other ticks are skipped with a reason.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from pmm_pipeline.defs.jobs import COLLECTION_JOB, CYCLE_JOB, QUESTIONNAIRES_JOB
from pmm_pipeline.orchestration.tags import AS_OF_TAG, CALENDAR_EVENT_TAG, CYCLE_TAG
from pmm_pipeline.specs.reference.models import Cycle, CyclesConfig

OPENING, DAILY, CLOSING, PUBLICATION = "opening", "daily", "closing", "publication"


def opening_day(cycle: Cycle) -> dt.date:
    return cycle.collection.opens


def closing_day(cycle: Cycle) -> dt.date:
    """The day after the last collection day: the inputs are frozen from its first instant."""
    return cycle.last_collection_day + dt.timedelta(days=1)


def publication_day(cycle: Cycle) -> dt.date:
    return cycle.publication_date


@dataclass(frozen=True)
class CalendarSchedule:
    """One kind of calendar event: the job it launches and which cycles it concerns on a day."""

    name: str
    event: str
    job_name: str
    description: str
    applies: Callable[[Cycle, dt.date], bool]
    event_day: Callable[[Cycle], dt.date] | None  # None: every day of the window


CALENDAR = (
    CalendarSchedule(
        "opening_questionnaires_schedule",
        OPENING,
        QUESTIONNAIRES_JOB,
        "On a cycle's opening day, writes the questionnaire of every member in force in its language.",
        lambda cycle, day: day == opening_day(cycle),
        opening_day,
    ),
    CalendarSchedule(
        "daily_collection_schedule",
        DAILY,
        COLLECTION_JOB,
        "Every day of a cycle's collection window (and of a reopening): takes in the arrivals and"
        " lists the members that have not submitted yet.",
        lambda cycle, day: cycle.is_collecting_on(day),
        None,
    ),
    CalendarSchedule(
        "closing_freeze_schedule",
        CLOSING,
        COLLECTION_JOB,
        "The day after a cycle's window: last intake and final collection status; later files are"
        " recorded and kept but not used unless the cycle is reopened (reopened_until).",
        lambda cycle, day: day == closing_day(cycle),
        closing_day,
    ),
    CalendarSchedule(
        "publication_release_schedule",
        PUBLICATION,
        CYCLE_JOB,
        "On a cycle's publication date, runs the whole cycle and writes its release.",
        lambda cycle, day: day == publication_day(cycle),
        publication_day,
    ),
)


def cron_schedules(cycles: CyclesConfig, event_day: Callable[[Cycle], dt.date] | None) -> list[str]:
    """Cron expressions ticking at `run_at` on each configured day (or on every day)."""
    at = f"{cycles.run_at.minute} {cycles.run_at.hour}"
    if event_day is None:
        return [f"{at} * * *"]
    days = sorted({(event_day(c).month, event_day(c).day) for c in cycles.cycles})
    return [f"{at} {day} {month} *" for month, day in days]


def run_requests_on(cycles: CyclesConfig, schedule: CalendarSchedule, day: dt.date) -> list[dg.RunRequest]:
    """What the schedule launches on a calendar day: one run per cycle the event concerns that day."""
    return [
        dg.RunRequest(
            # One run per cycle, event and day, even if the tick is evaluated again.
            run_key=f"{schedule.event}:{cycle.id}:{day.isoformat()}",
            job_name=schedule.job_name,
            partition_key=cycle.id,
            tags={CYCLE_TAG: cycle.id, CALENDAR_EVENT_TAG: schedule.event, AS_OF_TAG: day.isoformat()},
        )
        for cycle in cycles.cycles
        if schedule.applies(cycle, day)
    ]


def _skip_reason(cycles: CyclesConfig, schedule: CalendarSchedule, day: dt.date) -> str:
    if schedule.event_day is None:
        windows = ", ".join(f"{c.id}: {c.collection.opens} to {c.last_collection_day}" for c in cycles.cycles)
        return f"{day}: no cycle is collecting (windows {windows})"
    dates = ", ".join(f"{c.id} on {schedule.event_day(c)}" for c in cycles.cycles)
    return f"{day}: no cycle's {schedule.event} is today (configured: {dates})"


def build_calendar_schedule(cycles: CyclesConfig, schedule: CalendarSchedule) -> dg.ScheduleDefinition:
    def evaluate(context: dg.ScheduleEvaluationContext):
        moment = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        day = cycles.local_day(moment)
        requests = run_requests_on(cycles, schedule, day)
        yield from requests or [dg.SkipReason(_skip_reason(cycles, schedule, day))]

    return dg.ScheduleDefinition(
        name=schedule.name,
        cron_schedule=cron_schedules(cycles, schedule.event_day),
        execution_timezone=cycles.timezone,
        job_name=schedule.job_name,
        execution_fn=evaluate,
        description=f"{schedule.description} Dates come from the cycles configuration.",
        # The calendar is the configuration: it runs wherever the daemon runs (`make dev`).
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


def build_calendar_schedules(cycles: CyclesConfig) -> list[dg.ScheduleDefinition]:
    return [build_calendar_schedule(cycles, schedule) for schedule in CALENDAR]
