"""The warehouse as a Dagster resource: a run holds the warehouse's turn, and one connection, from start to end."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from pmm_pipeline.core.errors import PermanentError
from pmm_pipeline.core.settings import DEFAULT_WAREHOUSE_MEMORY_LIMIT
from pmm_pipeline.orchestration.failures import refuse_run_retries
from pmm_pipeline.warehouse.connection import (
    DEFAULT_TIMEOUT_S,
    WarehouseBusyError,
    errors_named,
    open_warehouse,
    verify_warehouse,
    warehouse_turn,
)


class Warehouse(DuckDBResource):
    """DuckDB warehouse; `database` is the file path.

    A run holds the warehouse's turn from the start to the end of its execution (with a process per
    step: of each step), so overlapping runs use the warehouse one after the other and none sees
    another's half-written cycle or half-built release folder. Inside a run every helper of a step gets
    the step's connection, opened at its first use and closed when the next step first asks for one (or
    when the run's resources are torn down): DuckDB opens a file (reading its catalog) when its first
    connection opens and checkpoints it when its last one closes, which a connection per helper paid 27
    times a cycle. Per step rather than per run, because a connection kept for the whole run keeps DuckDB's
    buffers of every earlier step: the cycle's peak memory grew by 60-85 MiB. A body that raises closes the
    connection (no half-done transaction reaches the next step or retry); the next use opens another.
    Outside a run (tests, `pmm run`'s summary) each connection takes the turn itself.
    """

    lock_timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, description="how long to wait for the warehouse")
    run_wait_timeout_s: float = Field(
        default=3600.0, description="how long a run waits for the runs before it to be done with the warehouse"
    )
    memory_limit: str = Field(
        default=DEFAULT_WAREHOUSE_MEMORY_LIMIT, description="DuckDB's memory_limit (PMM_WAREHOUSE_MEMORY_LIMIT)"
    )
    _holder: str = PrivateAttr(default="")
    _run_turn: ExitStack | None = PrivateAttr(default=None)
    _verified: bool = PrivateAttr(default=False)
    _run_connection: ExitStack | None = PrivateAttr(default=None)
    _connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _connection_step: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.run_id:
            self._holder = f"run {context.run_id}"

        def say_who(other: str) -> None:
            if context.log is not None:
                context.log.info(f"waiting for the warehouse: in use by {other}")

        turn = ExitStack()
        with _as_failure():
            turn.enter_context(warehouse_turn(self.database, self.run_wait_timeout_s, self._holder, say_who))
        self._run_turn = turn
        try:
            self._verify()
        except PermanentError:
            # Before any step writes: a run over a corrupt warehouse fails here, and is not run again
            # by the instance's run retries (the cause needs a person).
            turn.close()
            self._run_turn = None
            refuse_run_retries(context.instance, context.run_id)
            raise

    def _verify(self) -> None:
        if not self._verified:
            verify_warehouse(self.database, self.memory_limit)
            self._verified = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._close_run_connection()
        if self._run_turn is not None:
            self._run_turn.close()
            self._run_turn = None

    def _close_run_connection(self) -> None:
        if self._run_connection is not None:
            self._connection = None
            stack, self._run_connection = self._run_connection, None
            stack.close()

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._run_turn is not None:
            with self._connection_of_the_run() as conn:
                yield conn
            return
        with _as_failure():
            # The resource used outside a run (tests, tools) checks the file on first use too.
            with warehouse_turn(self.database, self.lock_timeout_s, self._holder):
                self._verify()
        with _as_failure(), open_warehouse(self.database, self.lock_timeout_s, self._holder, self.memory_limit) as conn:
            yield conn

    @contextmanager
    def _connection_of_the_run(self) -> Iterator[duckdb.DuckDBPyConnection]:
        step = _current_step()
        if self._connection is not None and step != self._connection_step:
            self._close_run_connection()
        if self._connection is None:
            self._connection_step = step
            stack = ExitStack()
            with _as_failure():
                self._connection = stack.enter_context(
                    open_warehouse(self.database, self.lock_timeout_s, self._holder, self.memory_limit)
                )
            self._run_connection = stack
        try:
            with errors_named(self.database):
                yield self._connection
        except BaseException:
            self._close_run_connection()
            raise


def _current_step() -> str | None:
    """The step being executed in this thread (its op), or None outside an asset's step."""
    try:
        return str(dg.AssetExecutionContext.get().op_handle)
    except dg.DagsterInvariantViolationError:
        return None


@contextmanager
def _as_failure() -> Iterator[None]:
    """Show a warehouse held too long as a step failure naming the holder; transient, so retried."""
    try:
        yield
    except WarehouseBusyError as busy:
        raise dg.Failure(
            description=str(busy),
            metadata={
                "warehouse": dg.MetadataValue.path(str(busy.path)),
                "held by": busy.holder or "a process outside the pipeline",
                "waited (s)": round(busy.waited_s, 1),
            },
            allow_retries=True,
        ) from busy
