"""Running a whole cycle through Dagster from the command line, recorded in the instance at DAGSTER_HOME."""

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from pmm_pipeline.core.errors import PermanentError
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.core.text import one_line
from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.defs.jobs import CYCLE_JOB
from pmm_pipeline.orchestration.instance import prepare_run_process
from pmm_pipeline.orchestration.metadata import unescape_markdown
from pmm_pipeline.orchestration.tags import CYCLE_TAG, PROCESS_TAG
from pmm_pipeline.stages.disclosure.control import summarize_withheld
from pmm_pipeline.warehouse.connection import open_warehouse, verify_warehouse
from pmm_pipeline.warehouse.tables import (
    FEEDBACK_REPORTS,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PARTICIPATION,
    RECEIVED_FILES,
    REJECTIONS,
    ROLLUPS,
    SUBMISSIONS,
    WITHHELD,
    published_tables,
)

PARENT_RUN_ID_TAG = "dagster/parent_run_id"  # Dagster's tag on a re-execution of another run
MAX_FAILURE_CHARS = 1_000
# Dagster's own wrappers around the error a step raised: the operator needs what is inside them.
WRAPPER_ERRORS = (
    "RetryRequestedFromPolicy",
    "RetryRequested",
    "DagsterExecutionStepExecutionError",
    "DagsterResourceFunctionError",
    "DagsterUserCodeExecutionError",
)


@dataclass
class RunOutcome:
    cycle: str
    run_id: str
    success: bool
    failures: list[str] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        state = "succeeded" if self.success else "FAILED"
        run = f"run {self.run_id}" if self.run_id else "no run started"
        lines = [f"cycle {self.cycle}: {run} {state}"]
        lines += [f"  failure: {f}" for f in self.failures]
        lines += [f"  {k}: {v}" for k, v in self.summary.items()]
        lines += [f"  {k}: {v}" for k, v in self.outputs.items()]
        return "\n".join(lines)


def summarize_cycle(settings: Settings, cycle: str) -> dict[str, object]:
    """The figures an operator checks after a run, read back from the warehouse."""
    queries = {
        "files received": f"SELECT count(*) FROM {RECEIVED_FILES.qualified} WHERE cycle = $cycle",
        "submission versions accepted": f"SELECT count(*) FROM {SUBMISSIONS.qualified} WHERE cycle = $cycle",
        "files rejected": f"SELECT count(*) FROM {REJECTIONS.qualified} WHERE cycle = $cycle",
        "members in force": f"SELECT count(*) FROM {PARTICIPATION.qualified} WHERE cycle = $cycle",
        "members ingested (participating)": (
            f"SELECT count(*) FROM {PARTICIPATION.qualified} WHERE cycle = $cycle AND is_participating"
        ),
        "KPIs computed": f"SELECT count(DISTINCT kpi_id) FROM {KPI_VALUES.qualified} WHERE cycle = $cycle",
        "KPI values reported": (
            f"SELECT count(*) FROM {KPI_VALUES.qualified} WHERE cycle = $cycle AND status = 'reported'"
        ),
        "rollup rows": f"SELECT count(*) FROM {ROLLUPS.qualified} WHERE cycle = $cycle",
        "feedback reports written": f"SELECT count(*) FROM {FEEDBACK_REPORTS.qualified} WHERE cycle = $cycle",
    }
    summary: dict[str, object] = {}
    with open_warehouse(settings.layout.warehouse_path, memory_limit=settings.warehouse_memory_limit) as conn:
        for label, sql in queries.items():
            summary[label] = conn.execute(sql, {"cycle": cycle}).fetchall()[0][0]
        reasons = conn.execute(
            f"SELECT reason_code, count(*) FROM {REJECTIONS.qualified} WHERE cycle = $cycle GROUP BY 1 ORDER BY 1",
            {"cycle": cycle},
        ).fetchall()
        status_counts = conn.execute(
            f"SELECT status, count(*) FROM {KPI_VALUES.qualified} WHERE cycle = $cycle GROUP BY 1 ORDER BY 1",
            {"cycle": cycle},
        ).fetchall()
        quality = conn.execute(
            f"SELECT rule || ' (' || severity || ')', count(*) FROM {FINDINGS.qualified} WHERE cycle = $cycle"
            " GROUP BY 1 ORDER BY 1",
            {"cycle": cycle},
        ).fetchall()
        blocked = conn.execute(
            "SELECT count(*) FILTER (WHERE NOT is_admitted), count(*)"
            f" FROM {MEMBER_SUMMARY.qualified} WHERE cycle = $cycle",
            {"cycle": cycle},
        ).fetchall()[0]
        disclosure = _disclosure_summary(conn, cycle)
    if reasons:
        summary["rejections by reason"] = ", ".join(f"{r} {n}" for r, n in reasons)
    summary["members blocked by the quality gate"] = f"{blocked[0]} of {blocked[1]}"
    summary["quality findings"] = ", ".join(f"{r} {n}" for r, n in quality) or "none"
    summary["KPI values by status"] = ", ".join(f"{s} {n}" for s, n in status_counts)
    summary.update(disclosure)
    return summary


def _disclosure_summary(conn, cycle: str) -> dict[str, str]:
    """Per tier: statistics withheld by reason, and regional means still published.

    Explained in docs/auditors.md, "Disclosure tiers".
    """
    tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    existing = {f"{schema}.{name}" for schema, name in tables}
    if WITHHELD.qualified not in existing:
        return {}
    withheld = conn.execute(f"SELECT * FROM {WITHHELD.qualified} WHERE cycle = ?", [cycle]).df()
    rollups = {
        tier: conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ?", [cycle]).df()
        for tier in TIERS
        if (table := published_tables(tier)[1]).qualified in existing
    }
    categorical = [
        kpi
        for (kpi,) in conn.execute(
            f"SELECT DISTINCT kpi_id FROM {KPI_VALUES.qualified} WHERE cycle = ? AND level_code IS NOT NULL", [cycle]
        ).fetchall()
    ]
    lines = summarize_withheld(withheld, rollups, categorical)
    return {f"disclosure control, {tier} tier": line for tier, line in lines.items()}


def run_cycle(
    settings: Settings,
    cycle: str,
    instance: dg.DagsterInstance | None = None,
    on_event: Callable[[dg.EventLogEntry], None] | None = None,
    own_process: bool = False,
) -> RunOutcome:
    """Materialize every asset of the cycle in one in-process run stored in the Dagster instance.

    `on_event` is called with each event of the run as the instance stores it (the command line's
    progress, app/progress.py). `own_process`: this process exists for the run (`pmm run`), so its
    fixed costs are paid once, after the definitions are built (orchestration/instance.py).
    """
    defs = build_definitions(settings)
    job = defs.resolve_job_def(CYCLE_JOB)
    if own_process:
        prepare_run_process()
    try:
        # Before any step writes: a corrupt warehouse stops here, with what to do, and starts no run.
        verify_warehouse(settings.layout.warehouse_path, settings.warehouse_memory_limit)
    except PermanentError as err:
        return RunOutcome(cycle=cycle, run_id="", success=False, failures=[f"warehouse check: {err}"])
    instance = instance or dg.DagsterInstance.get()
    fail_abandoned_runs(instance)
    # The run id is chosen here so that the listener is subscribed before the run's first event.
    run_id = str(uuid.uuid4())
    if on_event is not None:
        instance.add_event_listener(run_id, on_event)
    result = job.execute_in_process(
        run_id=run_id,
        partition_key=cycle,
        instance=instance,
        raise_on_error=False,
        tags={CYCLE_TAG: cycle, PROCESS_TAG: f"{socket.gethostname()}:{os.getpid()}"},
        # The full event log is in the instance (and the UI); the terminal gets warnings and errors: from
        # the listener when there is one (it prints them, in order, past Dagster's redirection of the
        # terminal, app/progress.py), else from Dagster's console logger.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL" if on_event else "WARNING"}}}},
    )
    failures = describe_failures(result.all_events)
    # A failed check of severity ERROR is a broken promise of the pipeline (e.g. an archived copy no
    # longer matching its hash): the run's steps may all have succeeded, the cycle has not.
    outcome = RunOutcome(cycle=cycle, run_id=result.run_id, success=result.success and not failures, failures=failures)
    if settings.layout.warehouse_path.exists():
        try:
            outcome.summary = summarize_cycle(settings, cycle)
        except Exception as err:  # a failed run may leave tables missing: the summary is best effort
            outcome.summary = {"summary unavailable": str(err).splitlines()[0]}
    layout = settings.layout
    outcome.outputs = {
        "warehouse": str(layout.warehouse_path),
        "published": str(layout.published_dir(cycle)),
        "quarantine": str(layout.quarantine_dir(cycle)),
        "archive": str(layout.archive_dir),
    }
    return outcome


def describe_failures(events) -> list[str]:
    """One line per failed step (step, cause, what to do), failed resource and failed ERROR check."""
    lines = []
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            user = data.user_failure_data
            if user is not None and user.description:
                cause = one_line(user.description, MAX_FAILURE_CHARS)
            else:
                cause = root_cause(data.error) if data.error else "failed (no error recorded)"
            lines.append(f"step {event.step_key}: {cause}")
        elif event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE and event.engine_event_data.error:
            lines.append(f"resources: {root_cause(event.engine_event_data.error)}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            if not check.passed and check.severity == dg.AssetCheckSeverity.ERROR:
                # Escaped for the UI's markdown (it may name a member's file); the terminal shows no markdown.
                description = one_line(unescape_markdown(check.description or "(no description)"), MAX_FAILURE_CHARS)
                lines.append(f"check {check.check_name} on {check.asset_key.to_user_string()} failed: {description}")
    return lines


def root_cause(error) -> str:
    """The message of the error a step raised, through Dagster's wrappers ("Exceeded max_retries of 2")."""
    attempts = ""
    while error.cls_name in WRAPPER_ERRORS and (error.cause or error.context):
        if error.cls_name == "RetryRequestedFromPolicy":
            attempts = f" ({error.message.strip()})"
        error = error.cause or error.context
    message = error.message.strip()
    # Dagster prefixes the class path ("dagster._core.definitions.events.Failure: ..."): keep the words.
    head, sep, rest = message.partition(": ")
    if sep and "." in head and " " not in head:
        message = f"{head.rsplit('.', 1)[-1]}: {rest}"
    return one_line(message, MAX_FAILURE_CHARS) + attempts


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark as failed the runs of `pmm run` processes of this host that died mid-run (killed, machine stop).

    An in-process run has no run worker for Dagster's run monitoring to watch: killed, it would show
    as in progress in the UI for ever. A run whose process is gone is failed with a message saying so.
    A pid reused since is taken as alive: such a run stays as it is rather than a living one being
    failed. Re-executions are skipped: Dagster copies the parent's tags, `pmm/process` included, onto
    runs that other processes execute.
    """
    host = socket.gethostname()
    in_progress = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    )
    failed = []
    for run in in_progress:
        run_host, _, pid = run.tags.get(PROCESS_TAG, "").rpartition(":")
        if PARENT_RUN_ID_TAG in run.tags or run_host != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        instance.report_run_failed(
            run, message=f"the pmm run process {pid} on {host} ended before the run did (killed or stopped)"
        )
        failed.append(run.run_id)
    return failed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
