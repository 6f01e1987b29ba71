"""A code location with one small job, for test_prod_profile.py's run queue test.

Its one step is in the warehouse pool, as every pmm_pipeline step that opens the warehouse is, so
the queue must treat its runs as it treats the cycle's runs; it does no work, so the test is quick.
"""

import dagster as dg

from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL


@dg.asset(pool=WAREHOUSE_POOL)
def queue_probe() -> None:
    """Nothing to compute: the run's start and end, recorded by the instance, are what the test reads."""


defs = dg.Definitions(
    assets=[queue_probe],
    jobs=[dg.define_asset_job("queue_probe_job", selection=[queue_probe], executor_def=dg.in_process_executor)],
)
