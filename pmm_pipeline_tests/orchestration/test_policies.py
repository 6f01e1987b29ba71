"""The asset policies (orchestration/policies.py) set what every asset shares in one place: here, the pool."""

import dagster as dg

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.definitions import build_definitions
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.policies import apply_asset_policies


def _steps(defs: dg.Definitions) -> dict[str, dg.OpDefinition]:
    return {node.name: node for job in defs.jobs for node in defs.resolve_job_def(job.name).graph.node_defs}


def test_every_step_that_opens_the_warehouse_is_in_its_pool_and_no_other_step_is():
    steps = _steps(build_definitions(Settings.from_env({})))
    pooled = {name for name, op in steps.items() if op.pool == WAREHOUSE_POOL}
    opening = {name for name, op in steps.items() if "warehouse" in op.required_resource_keys}
    assert pooled == opening
    assert {"take_in_landing_files", "compute_kpis", "publish_public__releases"} <= pooled
    assert {op.pool for op in steps.values()} <= {WAREHOUSE_POOL, None}


def test_the_pool_comes_from_the_policy_not_from_the_asset():
    @dg.asset(required_resource_keys={"warehouse"})
    def opens_the_warehouse():
        return 1

    @dg.asset
    def reads_nothing():
        return 2

    opening, other = apply_asset_policies([opens_the_warehouse, reads_nothing])
    assert opens_the_warehouse.op.pool is None  # as the stage wrote it
    assert opening.op.pool == WAREHOUSE_POOL
    assert other.op.pool is None


def test_a_keyed_table_asset_whose_step_cannot_be_checked_is_refused_at_loading():
    import pytest

    from pmm_pipeline.warehouse.tables import KPI_VALUES, ROLLUPS

    @dg.asset(key=KPI_VALUES.key, required_resource_keys={"warehouse"})
    def reads_the_warehouse_from_context(context):
        return dg.MaterializeResult()

    with pytest.raises(ValueError, match="must be computed by a step that takes `warehouse`"):
        apply_asset_policies([reads_the_warehouse_from_context])

    @dg.multi_asset(specs=[dg.AssetSpec(KPI_VALUES.key), dg.AssetSpec(ROLLUPS.key)])
    def returns_two_tables(context, warehouse: dg.ResourceParam[object]):
        return dg.MaterializeResult(asset_key=KPI_VALUES.key), dg.MaterializeResult(asset_key=ROLLUPS.key)

    with pytest.raises(ValueError, match="must yield its results"):
        apply_asset_policies([returns_two_tables])
