"""When a cycle takes uploads from the member platform: its collection window, or a reopening (cycles.yaml)."""

import datetime as dt

from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.arrivals import accepts_uploads


def cycle_accepts_uploads(reference: Reference, cycle_id: str, at: dt.datetime) -> bool:
    """True when an upload received at `at` (time-zone aware) would not be refused as `cycle_closed`.

    The same rule the platform's verdict and the intake apply to a delivered file (stages/ingestion/arrivals.py);
    days are those of the cycles calendar's time zone. An unknown cycle raises KeyError.
    """
    return accepts_uploads(reference.cycles.get(cycle_id), reference.cycles.tz, at)
