"""What a failed step tells the operator, and whether it is worth trying again.

Every asset and check of the code location runs inside `guard_compute` (applied once, by
orchestration/policies.py), which does two things to whatever the step's code does:
- an exception is classified: one that can pass on a second try (the warehouse busy or locked, a
  timeout, a dropped connection, memory short for a moment) is left to the job's retry policy; any
  other (a `PermanentError`, a full disk, a corrupt warehouse or file, a bug, bad input) becomes a
  `dg.Failure(allow_retries=False)` whose description is one line naming the cause and what to do,
  and the run is marked so that run retries (dagster.yaml `run_retries`) do not start it again;
- every result's metadata is bounded (orchestration/metadata.py); every check result takes the severity of
  its kind (orchestration/checks.py), and its description, which may name members' files, is escaped so
  the UI's markdown shows it as text.
"""

import errno
import functools
import inspect
from collections.abc import Callable

import dagster as dg

from pmm_pipeline.core.causes import cause_chain, disk_full_error, is_corrupt_duckdb, is_duckdb_error, path_in
from pmm_pipeline.core.errors import PermanentError
from pmm_pipeline.core.text import MAX_TEXT_CHARS, cut_text, one_line
from pmm_pipeline.orchestration.checks import CHECKS
from pmm_pipeline.orchestration.metadata import bound_metadata, escape_markdown

MAX_RETRIES_TAG = "dagster/max_retries"  # read by Dagster when a run fails: 0 means no run retry
MAX_DESCRIPTION_CHARS = 1_000
MAX_CAUSE_CHARS = 4_000  # an exception message kept in the event log beside the failure

TRANSIENT_ERRNOS = frozenset(
    {
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.ETIMEDOUT,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETXTBSY,
        errno.ESTALE,
    }
)
LOCK_TEXTS = ("could not set lock", "conflicting lock")


def permanent_cause(err: BaseException) -> PermanentError | None:
    """The named permanent cause behind `err` (first found along its chain), if any."""
    full = disk_full_error(err)
    if full is not None:
        return full
    for cause in cause_chain(err):
        if isinstance(cause, PermanentError):
            return cause
    for cause in cause_chain(err):
        if is_duckdb_error(cause) and is_corrupt_duckdb(cause):
            path = path_in(cause) or "(a DuckDB file)"
            return PermanentError(f"the DuckDB file {path} is corrupt ({one_line(str(cause), 300)})")
    return None


def is_transient(err: BaseException) -> bool:
    """Whether running the step again may pass: busy, locked, timed out, disconnected, short of memory."""
    for cause in cause_chain(err):
        if isinstance(cause, dg.Failure):
            return cause.allow_retries
        if isinstance(cause, (TimeoutError, ConnectionError, InterruptedError, BlockingIOError)):
            return True
        if isinstance(cause, OSError) and cause.errno in TRANSIENT_ERRNOS:
            return True
        name = type(cause).__name__
        if is_duckdb_error(cause) and (
            name in ("TransactionException", "OutOfMemoryException", "HTTPException")
            or any(t in str(cause).lower() for t in LOCK_TEXTS)
        ):
            return True
        module = type(cause).__module__.split(".")[0]
        if module in ("sqlalchemy", "psycopg", "psycopg2") and name in ("OperationalError", "DisconnectionError"):
            return True
    return False


def describe(err: BaseException) -> str:
    """One line: the cause and what to do."""
    cause = permanent_cause(err)
    if cause is not None:
        return one_line(str(cause), MAX_DESCRIPTION_CHARS)
    if isinstance(err, dg.Failure) and err.description:
        return one_line(err.description, MAX_DESCRIPTION_CHARS)
    text = one_line(f"{type(err).__name__}: {err}", MAX_DESCRIPTION_CHARS - 150)
    return text + " (not retried: a second try would fail the same way; mend the cause, then run again)"


def _bounded_cause(err: BaseException) -> BaseException:
    """`err`, or when its message is huge a stand-in with the message cut and the same traceback:
    Dagster stores the cause of a failure, message included, in its event log."""
    if len(str(err)) <= MAX_CAUSE_CHARS:
        return err
    stand_in = PermanentError(f"{type(err).__name__}: {cut_text(str(err), MAX_CAUSE_CHARS)}")
    stand_in.__suppress_context__ = True
    return stand_in.with_traceback(err.__traceback__)


def refuse_run_retries(instance, run_id: str | None) -> None:
    """Mark a run as not to be retried: Dagster reads `dagster/max_retries` when the run fails."""
    if instance is None or not run_id:
        return
    try:
        instance.add_run_tags(run_id, {MAX_RETRIES_TAG: "0"})
    except Exception:  # the failure itself must still be reported; run retries are a convenience
        pass


def _current_run() -> tuple[object, str | None]:
    try:
        context = dg.OpExecutionContext.get()
    except Exception:
        return None, None
    return context.instance, context.run_id


def as_failure(err: Exception) -> Exception:
    """The exception to raise instead of `err`: itself when retrying may help, else a one-line Failure."""
    if isinstance(err, dg.DagsterError) or isinstance(err, dg.RetryRequested):
        return err
    if isinstance(err, dg.Failure):
        # The step's own Failure keeps its words; a permanent cause behind it still stops the retries.
        permanent = permanent_cause(err)
        return dg.Failure(
            description=cut_text(err.description, MAX_TEXT_CHARS) if err.description else describe(err),
            metadata=bound_metadata(err.metadata),
            allow_retries=err.allow_retries and permanent is None,
        )
    if permanent_cause(err) is None and is_transient(err):
        return err
    cause = permanent_cause(err)
    return dg.Failure(
        description=describe(err),
        metadata={"cause": type(cause or err).__name__, "retried": "no: a second try cannot fix this"},
        allow_retries=False,
    )


def _raise_as_failure(err: Exception):
    replacement = as_failure(err)
    if replacement is err:
        raise err
    if isinstance(replacement, dg.Failure) and not replacement.allow_retries:
        refuse_run_retries(*_current_run())
    raise replacement from _bounded_cause(err)


def bound_event(event):
    """A result, output or event of a step with its metadata (and its checks' and description) bounded."""
    if isinstance(event, tuple) and not hasattr(event, "_fields"):
        return tuple(bound_event(e) for e in event)
    if isinstance(event, dg.AssetCheckResult):
        # Member file names and messages reach check descriptions, rendered as markdown: escaped, and cut again
        # after (escapes lengthen the text; one cut through an escape leaves a stray backslash, not markup).
        description = event.description and cut_text(
            escape_markdown(cut_text(event.description, MAX_TEXT_CHARS)), MAX_TEXT_CHARS
        )
        declared = CHECKS.get(event.check_name or "")
        if declared is None:  # only a test's own asset: the code location loads with every check declared
            return event._replace(metadata=bound_metadata(event.metadata), description=description)
        # The kind decides the severity, whatever the stage wrote: a data finding is never an error.
        metadata = {**(event.metadata or {}), **declared.metadata()}
        return event._replace(metadata=bound_metadata(metadata), description=description, severity=declared.severity)
    if isinstance(event, dg.MaterializeResult):
        checks = [bound_event(c) for c in (event.check_results or [])]
        return _metadata_on_the_materialization(
            event._replace(metadata=bound_metadata(event.metadata), check_results=checks)
        )
    if isinstance(event, dg.ObserveResult):
        checks = [bound_event(c) for c in (event.check_results or [])]
        return event._replace(metadata=bound_metadata(event.metadata), check_results=checks)
    if isinstance(event, (dg.AssetMaterialization, dg.AssetObservation)):
        return event._replace(metadata=bound_metadata(event.metadata))
    if isinstance(event, dg.Output):
        return event.with_metadata(bound_metadata(event.metadata))
    return event


def _metadata_on_the_materialization(result: dg.MaterializeResult) -> dg.MaterializeResult:
    """The result with its metadata given to the materialization only.

    Dagster copies a result's metadata into two events, the step output and the materialization; given as
    the asset's metadata (context.add_asset_metadata) it is stored once, where the UI shows it. Outside a
    step (a compute function called directly) the result is left as it is.
    """
    if not result.metadata:
        return result
    try:
        context = dg.AssetExecutionContext.get()
    except Exception:
        return result
    context.add_asset_metadata(result.metadata, asset_key=result.asset_key)
    return result._replace(metadata=None)


def guard_compute(fn: Callable) -> Callable:
    """`fn` (an asset's or check's compute function) with failures classified and metadata bounded.

    The wrapper keeps `fn`'s signature (Dagster reads it for the context and resources) and its kind:
    a generator stays a generator, a function a function.
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def guarded_generator(*args, **kwargs):
            try:
                for event in fn(*args, **kwargs):
                    yield bound_event(event)
            except Exception as err:
                _raise_as_failure(err)

        return guarded_generator

    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return fn  # none in this code location; left as they are rather than guarded half-way

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return bound_event(fn(*args, **kwargs))
        except Exception as err:
            _raise_as_failure(err)

    return guarded
