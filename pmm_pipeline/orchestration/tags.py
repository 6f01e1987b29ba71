"""Run tags the pipeline sets, so that runs can be found and filtered in the Dagster UI."""

CYCLE_TAG = "pmm/cycle"  # every run of a cycle's partition
CALENDAR_EVENT_TAG = "pmm/calendar_event"  # runs launched by the cycle calendar: opening, daily, closing, publication
AS_OF_TAG = "pmm/as_of"  # the calendar day a scheduled run stands for (YYYY-MM-DD)
MEMBER_TAG = "pmm/member"  # runs launched for one member's file (landing sensor)
SOURCE_FILE_TAG = "pmm/source_file"  # the file that launched the run (landing sensor)
PROCESS_TAG = "pmm/process"  # `host:pid` of the `pmm run` process executing the run in process
