"""What `pmm run` prints while a run goes on: each step as it starts and ends, and where the run is in the UI.

`StepProgress` is a listener of the Dagster instance's events for one run (`instance.add_event_listener`):
the instance calls it for every event it stores, in the thread that executes the steps, so a step's line
is written the moment the step starts (`[3/24] quality__findings ...`) and completed when it ends
(` 1.2 s`). The number of steps comes from the run itself (the executor's event naming the steps it will
execute), never from a count kept here that could drift from the job.

The listener also prints the run's warnings and errors itself (`warning: step: message`), and `pmm run`
turns Dagster's console logger down to CRITICAL: while a run executes, Dagster points the process's
standard output and error at the run's compute-log file and mirrors that file to the terminal with
`tail -F`, which polls once a second and is stopped when the run ends, so the last lines written through
it can be lost (dagster-io/dagster#23336; the end of a run's last step was, once in CI). `pmm run` hands
the listener a duplicate of the terminal's stream taken before the run (`terminal_stream`), so every line
arrives, at once and in order.
"""

import ast
import logging
import os
import sys
from collections.abc import Callable
from typing import TextIO

import dagster as dg

MAX_MESSAGE_LINES = 20  # of one message on the terminal; the whole message is in the run's event log

EventListener = Callable[[dg.EventLogEntry], None]


def run_url(ui_url: str, run_id: str) -> str:
    """The page of a run in the Dagster UI (the webserver of `make dev`, or PMM_UI_URL)."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def format_seconds(seconds: float) -> str:
    return f"{max(seconds, 0.0):.1f} s"


def terminal_stream(stream: TextIO = sys.stderr) -> TextIO:
    """A stream on a duplicate of `stream`'s file descriptor, taken now: Dagster's redirection of the
    descriptor during a run (see the module's docstring) does not reach the duplicate. Line buffered;
    the caller closes it. A stream without a descriptor (a test's StringIO) is returned as it is."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream
    stream.flush()
    return os.fdopen(os.dup(fd), "w", buffering=1, encoding=getattr(stream, "encoding", None) or "utf-8")


class StepProgress:
    """Writes one line per step of a run to `stream`, flushed as it goes, and the run's messages at or
    above `console_level` (warnings and errors) as lines of their own.

    A step's line is opened when it starts and completed when it ends. A message in between ends the open
    line first, and the step's end is then written as a whole line of its own. With `steps=False`
    (`pmm run --quiet`) only the messages are written. A problem writing (a closed pipe) stops the
    progress and never the run: the listener is called inside Dagster's event handling.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        ui_url: str | None = None,
        console_level: int = logging.WARNING,
        steps: bool = True,
    ):
        self.stream = stream
        self.ui_url = ui_url
        self.console_level = console_level
        self.steps = steps
        self.total: int | None = None
        self.numbers: dict[str, int] = {}  # step key -> n, in the order steps first started (or were skipped)
        self.started_at: dict[str, float] = {}
        self.attempts: dict[str, int] = {}
        self.open_step: str | None = None  # the step whose start line awaits its end
        self.ended: dict[str, str] = {}  # step key -> succeeded, failed, skipped
        self.broken = False

    # --- the listener ---------------------------------------------------------------------------
    def __call__(self, entry: dg.EventLogEntry) -> None:
        if self.broken:
            return
        try:
            self._handle(entry)
        except Exception:  # noqa: BLE001 - progress is a courtesy: it must never fail the run it reports on
            self.broken = True

    def _handle(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        kind = event.event_type if event is not None else None
        step = entry.step_key
        T = dg.DagsterEventType  # noqa: N806
        if kind not in RENDERED_EVENTS and entry.level >= self.console_level:
            self._message(entry)
        if not self.steps:
            return
        if kind == T.RUN_START and self.ui_url:
            self._line(f"run {entry.run_id} started; follow it in the Dagster UI: {run_url(self.ui_url, entry.run_id)}")
        elif kind == T.ENGINE_EVENT and self.total is None:
            self.total = _planned_step_count(event)
        elif kind in (T.STEP_START, T.STEP_RESTARTED) and step:
            self._start(step, entry.timestamp)
        elif kind == T.STEP_SUCCESS and step:
            self._end(step, entry.timestamp, "", "succeeded")
        elif kind == T.STEP_FAILURE and step:
            self._end(step, entry.timestamp, "FAILED after ", "failed")
        elif kind == T.STEP_UP_FOR_RETRY and step:
            self._end(step, entry.timestamp, "failed after ", None, ", will be retried")
        elif kind == T.STEP_SKIPPED and step:
            self._close_open_line()
            self._line(f"{self._label(step)} skipped: a step before it produced nothing for it")
            self.ended[step] = "skipped"

    def _message(self, entry: dg.EventLogEntry) -> None:
        """`warning: step: message`, one line (a message of several lines is indented under it)."""
        level = logging.getLevelName(entry.level).lower()
        text = entry.user_message if entry.dagster_event is None else entry.message
        where = f"{entry.step_key}: " if entry.step_key else ""
        lines = (text or "").strip().splitlines()[:MAX_MESSAGE_LINES] or [""]
        self._line("\n".join([f"{level}: {where}{lines[0]}", *(f"    {line}" for line in lines[1:])]))

    # --- lines ------------------------------------------------------------------------------------
    def _label(self, step: str) -> str:
        number = self.numbers.setdefault(step, len(self.numbers) + 1)
        total = "?" if self.total is None else str(max(self.total, len(self.numbers)))
        return f"[{number}/{total}] {step}"

    def _start(self, step: str, timestamp: float) -> None:
        self._close_open_line()
        self.attempts[step] = self.attempts.get(step, 0) + 1
        attempt = self.attempts[step]
        self.started_at[step] = timestamp
        again = f" (attempt {attempt})" if attempt > 1 else ""
        self._write(f"{self._label(step)}{again} ...")
        self.open_step = step

    def _end(self, step: str, timestamp: float, prefix: str, outcome: str | None, suffix: str = "") -> None:
        seconds = format_seconds(timestamp - self.started_at.get(step, timestamp))
        if self.open_step == step:
            self._write(f" {prefix}{seconds}{suffix}\n")
            self.open_step = None
        else:
            self._close_open_line()
            self._line(f"{self._label(step)} ... {prefix}{seconds}{suffix}")
        if outcome is not None:
            self.ended[step] = outcome

    def _close_open_line(self) -> None:
        if self.open_step is not None:
            self._write("\n")
            self.open_step = None

    def _line(self, text: str) -> None:
        self._close_open_line()
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def finish(self) -> None:
        """End a line left open (a run that stopped mid-step)."""
        if self.broken:
            return
        try:
            self._close_open_line()
        except Exception:  # noqa: BLE001 - see __call__
            self.broken = True


# The events a step's line (or the run's first line) shows: never printed again as messages.
RENDERED_EVENTS = frozenset(
    {
        dg.DagsterEventType.RUN_START,
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_RESTARTED,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_UP_FOR_RETRY,
        dg.DagsterEventType.STEP_SKIPPED,
    }
)


def _planned_step_count(event: dg.DagsterEvent) -> int | None:
    """The steps the executor announces it will execute (its `step_keys` metadata), if this event says."""
    data = event.event_specific_data
    metadata = getattr(data, "metadata", None) or {}
    value = metadata.get("step_keys")
    text = getattr(value, "value", value)
    if not isinstance(text, str):
        return None
    try:
        keys = ast.literal_eval(text)  # Dagster writes the list as str(list_of_keys)
    except (ValueError, SyntaxError):
        return None
    return len(keys) if isinstance(keys, list | tuple | set) else None
