"""Dagster wiring of reuse by content (core/reuse.py): a step whose key and outputs are unchanged reports its last
result again instead of computing it, and says so in its metadata.

A step's inputs are derived from its asset definition: every table it depends on is digested (the deps that
test_sql_reads.py proves equal to the tables its SQL reads), every tier release it depends on by the SHA-256 of
the released folder's manifest, plus what the step names itself (code version, catalogue digest, settings).
Its outputs are its own tables (digested the same way) and the folders it writes (checked against their manifest,
then named by its SHA-256). Every run still records every step: a reused step replays its last events with
`reuse: reused`, the key, the inputs compared and the run whose result it is; a computed one says which inputs
changed. The records live in `<PMM_DATA_DIR>/reuse/<cycle>/<step>.json`, beside the outputs they describe.
"""

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import dagster as dg
import duckdb

from pmm_pipeline.core.provenance import code_version, source_digest
from pmm_pipeline.core.reuse import ReuseRecord, decide, digest_text, read_record, step_key, write_record
from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.publishing.folders import check_listed
from pmm_pipeline.stages.publishing.release import sha256_file
from pmm_pipeline.warehouse.digests import table_digest
from pmm_pipeline.warehouse.tables import Table, declared_tables, published_tables

REUSE_FOLDER = "reuse"
RELEASE_TIER_BY_KEY = {dg.AssetKey(published_tables(tier)[2].key): tier for tier in TIERS}
# Every declared table by its asset key; a tier's releases table stands for its released folder (what the
# steps after it read), so it is digested by the folder's manifest, not by its log rows.
TABLES_BY_KEY: dict[dg.AssetKey, Table] = {
    dg.AssetKey(t.key): t for t in declared_tables() if dg.AssetKey(t.key) not in RELEASE_TIER_BY_KEY
}


def record_path(storage: PmmStorage, cycle: str, step: str) -> Path:
    return storage.layout.data_dir / REUSE_FOLDER / cycle / f"{step}.json"


def folder_digest(folder: Path) -> str:
    """The SHA-256 of a published folder's manifest when every file it lists is there with its bytes, else why not."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return tree_digest(folder)
    _, problems = check_listed(folder)
    if problems:
        return f"altered ({len(problems)} problem(s))"
    return digest_text(manifest.read_bytes())


def common_inputs(**settings: object) -> dict[str, str]:
    """What every key holds besides its data: the code that computes and the settings it is given."""
    inputs = {"code_version": code_version(), "code_digest": source_digest(), "duckdb_version": duckdb.__version__}
    inputs |= {f"setting:{name}": digest_text(value) for name, value in settings.items()}
    return inputs


Connect = Callable[[], duckdb.DuckDBPyConnection]


class _LazyWarehouse:
    """One warehouse connection, opened only when a digest needs it (a step on files alone never waits for it)."""

    def __init__(self, warehouse: Warehouse | None, stack: contextlib.ExitStack):
        self.warehouse, self.stack, self.conn = warehouse, stack, None

    def __call__(self) -> duckdb.DuckDBPyConnection:
        if self.conn is None:
            if self.warehouse is None:
                raise ValueError("this step digests warehouse tables: it must take the `warehouse` resource")
            self.conn = self.stack.enter_context(self.warehouse.get_connection())
        return self.conn


def cycle_inputs(cycle: Cycle) -> dict[str, str]:
    """What a step's result depends on in the cycle's configuration (a reopening changes only the files taken in,
    which the data inputs show)."""
    c = cycle
    return {"cycle": digest_text(c.id, c.reporting_year, c.catalogue_version, c.collection, c.publication_date)}


def tree_digest(folder: Path) -> str:
    """Every file below `folder` by its path and SHA-256 (a folder without a manifest, such as feedback/)."""
    if not folder.is_dir():
        return "absent"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return digest_text(*(f"{p.relative_to(folder).as_posix()}={sha256_file(p)}" for p in files))


def _dependency_inputs(
    context: dg.AssetExecutionContext, conn: Connect, storage: PmmStorage, cycle: str
) -> dict[str, str]:
    own = set(context.assets_def.keys)
    inputs: dict[str, str] = {}
    for key in sorted(context.assets_def.dependency_keys - own, key=lambda k: k.to_user_string()):
        if key in RELEASE_TIER_BY_KEY:
            tier = RELEASE_TIER_BY_KEY[key]
            inputs[f"folder:published/{cycle}/{tier}"] = folder_digest(storage.layout.published_dir(cycle) / tier)
        elif key in TABLES_BY_KEY:
            table = TABLES_BY_KEY[key]
            inputs[f"table:{table.qualified}"] = table_digest(conn(), table, [cycle])
        else:
            raise ValueError(f"{key.to_user_string()}: a dependency reuse cannot digest; declare how in reuse.py")
    return inputs


def _output_digests(
    context: dg.AssetExecutionContext,
    conn: Connect,
    storage: PmmStorage,
    cycle: str,
    folders: Sequence[Path],
) -> dict[str, str]:
    outputs = {
        f"table:{TABLES_BY_KEY[key].qualified}": table_digest(conn(), TABLES_BY_KEY[key], [cycle])
        for key in context.assets_def.keys
        if key in TABLES_BY_KEY
    }
    for key in context.assets_def.keys:
        if key in RELEASE_TIER_BY_KEY:  # the release's own folder is its output
            folders = [*folders, storage.layout.published_dir(cycle) / RELEASE_TIER_BY_KEY[key]]
    root = storage.layout.data_dir
    return outputs | {f"folder:{f.relative_to(root).as_posix()}": folder_digest(f) for f in folders}


def _serialize(event: dg.MaterializeResult | dg.AssetCheckResult) -> dict:
    metadata = dg.serialize_value(dict(event.metadata or {}))
    if isinstance(event, dg.AssetCheckResult):
        return {
            "kind": "check",
            "asset_key": event.asset_key.to_user_string(),
            "check_name": event.check_name,
            "passed": event.passed,
            "severity": event.severity.value,
            "description": event.description,
            "metadata": metadata,
        }
    return {"kind": "materialization", "asset_key": event.asset_key.to_user_string(), "metadata": metadata}


def _replay(event: dict, note: Mapping[str, dg.MetadataValue]) -> dg.MaterializeResult | dg.AssetCheckResult:
    metadata = {**dg.deserialize_value(event["metadata"], dict), **note}
    key = dg.AssetKey.from_user_string(event["asset_key"])
    if event["kind"] == "check":
        return dg.AssetCheckResult(
            asset_key=key,
            check_name=event["check_name"],
            passed=event["passed"],
            severity=dg.AssetCheckSeverity(event["severity"]),
            description=event["description"],
            metadata=metadata,
        )
    return dg.MaterializeResult(asset_key=key, metadata=metadata)


def reuse_or_compute(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse | None,
    storage: PmmStorage,
    compute: Callable[[], dg.MaterializeResult | Iterable],
    inputs: Callable[[Connect], Mapping[str, str]],
    output_folders: Sequence[Path] = (),
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Run `compute` (the step's body) unless its key and outputs are those of its last computation for the cycle.

    `inputs` gives the step's own named inputs (common_inputs() and what else it reads); its table and release
    dependencies are added here from its asset definition, so the key covers every table it reads.
    """
    cycle = context.partition_key
    step = context.assets_def.node_def.name
    path = record_path(storage, cycle, step)
    with contextlib.ExitStack() as stack:
        conn = _LazyWarehouse(warehouse, stack)
        every_input = _dependency_inputs(context, conn, storage, cycle) | dict(inputs(conn))
        outputs = _output_digests(context, conn, storage, cycle, output_folders)
    key = step_key(every_input)
    previous = read_record(path)
    decision = decide(previous, key, every_input, outputs)
    note = {
        "reuse": dg.MetadataValue.text("reused" if decision.reuse else "computed"),
        "reuse_key": dg.MetadataValue.text(key),
        "reuse_why": dg.MetadataValue.text(decision.why),
        "reuse_inputs_compared": dg.MetadataValue.json(sorted(every_input)),
        "reuse_inputs_changed": dg.MetadataValue.json(decision.changed_inputs),
    }
    if decision.reuse and previous is not None:
        note["reused_from_run"] = dg.MetadataValue.text(previous.run_id)
        context.log.info(f"{step}: reused the result of run {previous.run_id} ({decision.why})")
        for event in previous.events:
            yield _replay(event, note)
        return
    context.log.info(f"{step}: computing ({decision.why})")
    # Whatever the step leaves if it fails half-way is no result to reuse: the next run computes again.
    path.unlink(missing_ok=True)
    result = compute()
    events = [result] if isinstance(result, dg.MaterializeResult) else result
    recorded: list[dict] = []
    for event in events:
        if isinstance(event, dg.MaterializeResult) and event.asset_key is None:
            event = dg.MaterializeResult(asset_key=context.asset_key, metadata=event.metadata)
        if isinstance(event, dg.MaterializeResult | dg.AssetCheckResult):
            recorded.append(_serialize(event))
            event = _replay(recorded[-1], note)  # the same event, with the decision added to its metadata
        yield event
    with contextlib.ExitStack() as stack:
        outputs = _output_digests(context, _LazyWarehouse(warehouse, stack), storage, cycle, output_folders)
    write_record(
        path,
        ReuseRecord(
            step=step,
            key=key,
            inputs=every_input,
            outputs=outputs,
            run_id=context.run_id,
            events=recorded,
        ),
    )


InputsOf = Callable[..., Mapping[str, str]]


def reusable(inputs_of: InputsOf, folders_of: Callable[..., Sequence[Path]] | None = None):
    """Make a step body reuse by content: `inputs_of(context, conn, **resources)` names its own inputs (`conn()`
    opens the warehouse), `folders_of(context, **resources)` the folders it writes. The step takes `storage`, and
    `warehouse` when it reads or writes tables."""

    def wrap(body):
        @functools.wraps(body)
        def step(context: dg.AssetExecutionContext, **resources):
            yield from reuse_or_compute(
                context,
                resources.get("warehouse"),
                resources["storage"],
                lambda: body(context, **resources),
                lambda conn: inputs_of(context, conn, **resources),
                folders_of(context, **resources) if folders_of else (),
            )

        return step

    return wrap
