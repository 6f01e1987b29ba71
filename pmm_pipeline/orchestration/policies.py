"""The one place that applies the asset graph's policies to every asset and check of every stage.

Each stage describes its own assets (description = what one row is, group = layer); here every
asset also gets, where its stage did not set them, the owning team, its layer as a tag and its
storage kind, and a code reference to the function that computes it (the UI links to the source).
Every asset and check also runs inside the step guard (orchestration/failures.py): a failure that a
retry cannot fix fails at once with a one-line description, and all metadata it reports is bounded.
Every asset whose step opens the warehouse (it takes the `warehouse` resource) runs in the warehouse pool, so that
steps of concurrent runs take the warehouse in turn (orchestration/instance.py sets the pool's limit).
Every asset of a table with a row key gets its row-key check (orchestration/key_checks.py), run after the step's
body. Every check spec takes its kind, blocking flag and words from orchestration/checks.py and the partitions
of its asset (a result is tied to the cycle it checked); every description is made safe for the UI's
markdown here, where they all pass (`<cycle>` shown as code, not eaten as an HTML tag).
"""

import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence

import dagster as dg
from dagster._core.definitions.decorators.op_decorator import DecoratedOpFunction

from pmm_pipeline.orchestration.checks import CHECKS, declaration
from pmm_pipeline.orchestration.failures import guard_compute
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.key_checks import checking_keys, key_checked_tables, missing_key_check_specs
from pmm_pipeline.orchestration.metadata import markdown_description
from pmm_pipeline.orchestration.table_assets import OWNER


def _with_defaults(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(
        owners=spec.owners or [OWNER],
        tags={"layer": spec.group_name or "default", **spec.tags},
        kinds=spec.kinds or {"duckdb"},
        description=markdown_description(spec.description),
    )


def classified_check_spec(spec: dg.AssetCheckSpec, partitions: dg.PartitionsDefinition | None) -> dg.AssetCheckSpec:
    """`spec` as orchestration/checks.py declares it: blocking, kind in words and metadata, the asset's partitions."""
    declared = declaration(spec.name)
    description = f"{declared.heading()} {spec.description or ''}".strip()
    with warnings.catch_warnings():
        # Partitioned checks are "preview" in Dagster 1.13; the warning would greet every code location load.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            spec.name,
            asset=spec.asset_key,
            description=markdown_description(description),
            additional_deps=spec.additional_deps,
            blocking=declared.blocking,
            metadata={**spec.metadata, **declared.metadata()},
            automation_condition=spec.automation_condition,
            partitions_def=partitions,
        )


def with_classified_checks(assets_def: dg.AssetsDefinition, strict: bool) -> dg.AssetsDefinition:
    """The same asset with each of its declared check specs classified; with `strict`, an undeclared check
    fails the loading (the code location's own checks), else it is left as written (a test's own asset)."""
    specs = assets_def.node_check_specs_by_output_name
    if not strict:
        specs = {output: spec for output, spec in specs.items() if spec.name in CHECKS}
    if not specs:
        return assets_def
    attributes = assets_def.get_attributes_dict()
    attributes["check_specs_by_output_name"] = {
        **assets_def.node_check_specs_by_output_name,
        **{output: classified_check_spec(spec, assets_def.partitions_def) for output, spec in specs.items()},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # `execution_type`, copied over unchanged
        return assets_def.__class__(**attributes)


def _compute_fn(assets_def: dg.AssetsDefinition) -> Callable | None:
    """The function the asset's op computes with, when it has one of its own (a decorated asset)."""
    op = assets_def.node_def if assets_def.is_executable else None
    if not isinstance(op, dg.OpDefinition) or not isinstance(op.compute_fn, DecoratedOpFunction):
        return None
    return op.compute_fn.decorated_fn


def with_key_check_specs(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The same asset with the row-key check spec of each of its keyed tables (orchestration/key_checks.py); the
    step guard (`guarded`) runs them after the step's body."""
    specs = missing_key_check_specs(assets_def)
    fn = _compute_fn(assets_def)
    if not specs:
        return assets_def
    name = assets_def.node_def.name
    # Refused at loading, not in a run: the check reads the step's `warehouse` argument, and attaches several results
    # only to a step that yields them.
    if fn is None or "warehouse" not in inspect.signature(fn).parameters:
        raise ValueError(f"{name}: a table asset with a row key must be computed by a step that takes `warehouse`")
    if len(specs) + len(key_checked_tables(assets_def)) > 1 and not inspect.isgeneratorfunction(fn):
        raise ValueError(f"{name}: a step that writes several tables with row keys must yield its results")
    added = {spec.get_python_identifier(): spec for spec in specs}
    return _with_op(
        assets_def,
        fn,
        extra_outs={name: dg.Out(None, is_required=not assets_def.can_subset) for name in added},
        extra_check_specs=added,
    )


def guarded(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The same asset (or check) whose op computes through `guard_compute`, followed by its row-key checks if any;
    anything else as it is."""
    body = _compute_fn(assets_def)
    if body is None or getattr(body, "__pmm_guarded__", False):
        return assets_def
    keyed = key_checked_tables(assets_def)
    fn = guard_compute(checking_keys(body, keyed) if keyed else body)
    fn.__pmm_guarded__ = True
    return _with_op(assets_def, fn)


def pool_of(resource_keys: set[str] | frozenset[str]) -> str | None:
    """The pool of a step: the warehouse's for every step that opens it, none for the others."""
    return WAREHOUSE_POOL if "warehouse" in resource_keys else None


def _with_op(
    assets_def: dg.AssetsDefinition,
    fn: Callable,
    extra_outs: Mapping[str, dg.Out] | None = None,
    extra_check_specs: Mapping[str, dg.AssetCheckSpec] | None = None,
) -> dg.AssetsDefinition:
    """The same asset whose op computes with `fn`, with `extra_outs` for its `extra_check_specs` if any."""
    op = assets_def.node_def
    # Dagster has no public way to replace an op's body: rebuilt as OpDefinition.with_replaced_properties does.
    new_op = dg.OpDefinition.dagster_internal_init(
        compute_fn=DecoratedOpFunction(fn),
        name=op.name,
        ins={i.name: dg.In.from_definition(i) for i in op.input_defs},
        outs={**{o.name: dg.Out.from_definition(o) for o in op.output_defs}, **(extra_outs or {})},
        description=markdown_description(op.description),
        config_schema=op.config_schema,
        required_resource_keys=op.required_resource_keys,
        tags=op.tags,
        version=None,
        retry_policy=op.retry_policy,
        code_version=op.version,
        pool=op.pool or pool_of(op.required_resource_keys),
    )
    attributes = assets_def.get_attributes_dict()
    attributes["node_def"] = new_op
    if extra_check_specs:
        attributes["check_specs_by_output_name"] = {**assets_def.node_check_specs_by_output_name, **extra_check_specs}
        attributes["selected_asset_check_keys"] = {
            *assets_def.check_keys,
            *(spec.key for spec in extra_check_specs.values()),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # `execution_type`, copied over unchanged
        return assets_def.__class__(**attributes)


def apply_asset_policies(assets: Sequence, strict_checks: bool = False) -> list:
    """Owners, layer tag, kind, safe descriptions and code references on every asset; every check classified;
    the step guard on every asset and check. `strict_checks`: every check must be declared (the code location)."""
    documented = [
        with_classified_checks(with_key_check_specs(a.map_asset_specs(_with_defaults)), strict_checks)
        if isinstance(a, dg.AssetsDefinition) and not isinstance(a, dg.AssetChecksDefinition)
        else a
        for a in assets
    ]
    if strict_checks and any(isinstance(a, dg.AssetChecksDefinition) for a in assets):
        # None in this code location: a standalone @asset_check would bypass the classification above.
        raise ValueError("standalone asset checks are not classified: declare checks as check specs of their asset")
    with warnings.catch_warnings():
        # Code references are "beta" in Dagster 1.13; the warning would greet every code location load.
        warnings.simplefilter("ignore", dg.BetaWarning)
        referenced = list(dg.with_source_code_references(documented))
    # Guarded after the code references were taken, so that they point at the stage's own function.
    return [guarded(a) if isinstance(a, dg.AssetsDefinition) else a for a in referenced]
