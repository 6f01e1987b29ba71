"""The per-answer rules as Great Expectations suites, planned from the catalogue (plan.py), run on pandas frames.

`run_expectations` imports Great Expectations (≈3 s) only when called, validates each frame in
an ephemeral context, writes the Data Docs of the run when asked, and returns the failing row ids per
expectation. An exception inside a result means the gate could not judge the data: it is raised as
QualityGateError, never read as a data failure.
"""

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pmm_pipeline.stages.quality.offline_docs import make_self_contained
from pmm_pipeline.stages.quality.plan import PlannedExpectation

DOCS_SITE = "pmm_quality"


class QualityGateError(RuntimeError):
    """The gate itself failed (e.g. Great Expectations raised): nothing may be admitted on its word."""


@dataclass(frozen=True)
class ExpectationOutcome:
    planned: PlannedExpectation
    rows_checked: int
    failing_row_ids: tuple[int, ...]


@dataclass(frozen=True)
class ExpectationsReport:
    outcomes: list[ExpectationOutcome]
    docs_index: Path | None


def _condition(where: Mapping[str, Any]):
    from great_expectations.expectations.row_conditions import Column

    condition = None
    for column, wanted in where.items():
        term = Column(column).is_in(wanted) if isinstance(wanted, list) else Column(column) == wanted
        condition = term if condition is None else condition & term
    return condition


def _context(docs_dir: Path | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
        data_docs_sites=sites,
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _raised_exception(result) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any."""
    info = result.exception_info or {}
    # One entry for the expectation, or one per metric keyed by metric id.
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "an exception without a message")
    return None


def _columns_used(planned: list[PlannedExpectation]) -> list[str]:
    used = {"row_id"}
    for p in planned:
        used |= {p.kwargs[k] for k in ("column", "column_A", "column_B") if k in p.kwargs}
        used |= set(p.kwargs.get("column_list", ())) | set(p.where)
    return sorted(used)


# Prepared contexts of runs without Data Docs (`pmm validate`, the member platform's verdict), by plan: building
# the suites costs ~0.3 s of Great Expectations' own bookkeeping per run, whatever the data (benchmarks/
# verdict_latency.py); the same plan reuses them. A GX context is not thread-safe: runs on one are serialised.
_PREPARED: dict[tuple, "_Prepared"] = {}
_PREPARED_LOCK = threading.Lock()
_MAX_PREPARED = 4


@dataclass
class _Prepared:
    context: Any
    definitions: dict[str, Any]  # batch name -> validation definition
    by_key: dict[str, PlannedExpectation]


def _plan_key(plan: list[PlannedExpectation], suite_prefix: str) -> tuple:
    return (
        suite_prefix,
        tuple(
            (p.batch, p.rule, p.check, p.expectation, repr(sorted(p.kwargs.items())), repr(sorted(p.where.items())))
            for p in plan
        ),
    )


def _prepare(context, plan: list[PlannedExpectation], suite_prefix: str) -> _Prepared:
    import great_expectations as gx

    source = context.data_sources.add_pandas("pmm")
    prepared = _Prepared(context, {}, {})
    for batch_name in dict.fromkeys(p.batch for p in plan):
        planned = [p for p in plan if p.batch == batch_name]
        suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_prefix}_{batch_name}"))
        for p in planned:
            key = f"{p.rule}/{p.check}"
            prepared.by_key[key] = p
            expectation_class = getattr(gx.expectations, p.expectation)
            suite.add_expectation(
                expectation_class(
                    **p.kwargs,
                    row_condition=_condition(p.where) if p.where else None,
                    meta={"pmm_key": key},
                    description=f"**{p.rule}**: {p.description}",
                )
            )
        batch = source.add_dataframe_asset(batch_name).add_batch_definition_whole_dataframe("whole")
        prepared.definitions[batch_name] = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite_prefix}_{batch_name}", data=batch, suite=suite)
        )
    return prepared


def run_expectations(
    plan: list[PlannedExpectation],
    batches: Mapping[str, pd.DataFrame],
    suite_prefix: str,
    docs_dir: Path | None = None,
    run_name: str = "run",
    *,
    fast: bool = False,
) -> ExpectationsReport:
    """Validate each batch against its planned expectations; failing rows are identified by `row_id`.

    With `fast` (one member's file: `pmm validate`, the platform's verdict; never with Data Docs), every
    expectation stages/quality/fast.py evaluates exactly as Great Expectations does is judged there, in pandas,
    and only the others by Great Expectations. Outcomes come in plan order whichever path judged them.
    """
    # By key, not identity: a prepared GX context answers with the planned objects it was built from.
    order = {(p.batch, p.rule, p.check): i for i, p in enumerate(plan)}
    outcomes: list[ExpectationOutcome] = []
    rest, docs_index = plan, None
    if fast and docs_dir is None:
        outcomes, rest = _run_fast(plan, batches)
    if rest:
        report = _run_gx(rest, batches, suite_prefix, docs_dir, run_name)
        outcomes, docs_index = outcomes + report.outcomes, report.docs_index
    outcomes = sorted(
        outcomes,
        key=lambda o: order.get((o.planned.batch, o.planned.rule, o.planned.check), len(order)),
    )
    return ExpectationsReport(outcomes=outcomes, docs_index=docs_index)


def _run_fast(
    plan: list[PlannedExpectation], batches: Mapping[str, pd.DataFrame]
) -> tuple[list[ExpectationOutcome], list[PlannedExpectation]]:
    """The outcomes of the expectations fast.py can judge, and the planned expectations left to GX."""
    from pmm_pipeline.stages.quality.fast import can_evaluate, evaluate

    outcomes, rest = [], []
    for batch_name, frame in batches.items():
        errors = []
        for p in (p for p in plan if p.batch == batch_name):
            if not can_evaluate(p.expectation, p.kwargs, p.where, frame.columns):
                rest.append(p)
                continue
            key = f"{p.rule}/{p.check}"
            try:
                result = evaluate(p.expectation, p.kwargs, p.where, frame)
            except Exception as err:  # noqa: BLE001 - as GX reports a raised exception: the gate cannot judge
                errors.append(f"{key}: {err}")
                continue
            # The same consistency check as for GX's results (a vacuous success with failing rows is an error).
            if result.success != (not result.failing_row_ids):
                errors.append(f"{key}: success={result.success} but {len(result.failing_row_ids)} failing row(s)")
                continue
            outcomes.append(ExpectationOutcome(p, result.rows_checked, result.failing_row_ids))
        if errors:
            raise QualityGateError(f"the gate could not judge batch {batch_name!r}: " + "; ".join(errors))
    # An expectation of a batch not given gets no outcome, as with GX (it validates the batches given).
    return outcomes, rest


def _run_gx(
    plan: list[PlannedExpectation],
    batches: Mapping[str, pd.DataFrame],
    suite_prefix: str,
    docs_dir: Path | None,
    run_name: str,
) -> ExpectationsReport:
    import great_expectations  # noqa: F401 - imported here, never at module top (~3 s)

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    if docs_dir is not None:
        return _run(_prepare(_context(docs_dir), plan, suite_prefix), plan, batches, docs_dir, run_name)
    key = _plan_key(plan, suite_prefix)
    with _PREPARED_LOCK:
        prepared = _PREPARED.get(key)
        if prepared is None:
            if len(_PREPARED) >= _MAX_PREPARED:
                _PREPARED.clear()
            prepared = _PREPARED[key] = _prepare(_context(None), plan, suite_prefix)
        return _run(prepared, plan, batches, None, run_name)


def _run(
    prepared: _Prepared,
    plan: list[PlannedExpectation],
    batches: Mapping[str, pd.DataFrame],
    docs_dir: Path | None,
    run_name: str,
) -> ExpectationsReport:
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name=run_name)
    by_key = prepared.by_key
    outcomes: list[ExpectationOutcome] = []
    for batch_name, frame in batches.items():
        planned = [p for p in plan if p.batch == batch_name]
        if not planned:
            continue
        definition = prepared.definitions[batch_name]
        # GX copies its batch for every metric: hand it only the columns the expectations read.
        slim = frame[[c for c in _columns_used(planned) if c in frame.columns]]
        result = definition.run(
            batch_parameters={"dataframe": slim},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]},
            run_id=run_id,
        )
        unanswered = {f"{p.rule}/{p.check}" for p in planned}
        errors = []
        for r in result.results:
            key = r.expectation_config.meta["pmm_key"]
            unanswered.discard(key)
            if (message := _raised_exception(r)) is not None:
                errors.append(f"{key}: {message}")
                continue
            unexpected = r.result.get("unexpected_index_list")
            if not r.success and unexpected is None:
                errors.append(f"{key}: failed without naming its rows")
                continue
            ids = tuple(sorted(int(row["row_id"]) for row in unexpected or []))
            if r.success != (not ids):
                errors.append(f"{key}: success={r.success} but {len(ids)} failing row(s)")
                continue
            outcomes.append(ExpectationOutcome(by_key[key], int(r.result.get("element_count", 0)), ids))
        errors += [f"{key}: no result" for key in sorted(unanswered)]
        if errors:
            raise QualityGateError(f"Great Expectations could not judge batch {batch_name!r}: " + "; ".join(errors))
    docs_index = None
    if docs_dir is not None:
        prepared.context.build_data_docs(site_names=[DOCS_SITE])
        # GX's pages load their styles and scripts from public CDNs: rewritten to render offline.
        make_self_contained(Path(docs_dir))
        docs_index = Path(docs_dir) / "index.html"
    return ExpectationsReport(outcomes=outcomes, docs_index=docs_index)
