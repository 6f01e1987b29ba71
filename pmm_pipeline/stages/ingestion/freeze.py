"""The freeze of a cycle's inputs at closing: which submission versions are late, and which are used.

A version is late when its file was first seen (raw.received_files.received_at) after the
collection closed. A late version is recorded and kept but not used once the cycle's inputs are
frozen, unless the cycle is reopened (cycles.yaml `reopened_until`) past the day it was seen.
A cycle taken in for the first time after its closing (a past cycle loaded into a new warehouse,
or the demo) has no earlier state to freeze: what that first intake finds stands for the inputs
at closing, still counted late; anything first seen after that intake is frozen out.

The receipt times and the first intake come from the receipt ledger beside the archive
(stages/ingestion/receipts.py), not from the warehouse: a warehouse rebuilt from the archive freezes the
same versions.

A version whose archived copy is damaged (raw.submissions.archive_state not `intact`) keeps its
place in the order. If it is the version that would be used, the member has no version in use:
it is on hold until the copy is restored or the file is sent again, never silently moved back to
an earlier version. A damaged earlier version changes nothing: a later version replaces it whole.
"""

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pmm_pipeline.specs.reference.models import CyclesConfig

# The columns of raw.submissions decided here rather than read from the file.
VERSION_USE_COLUMNS = ("is_latest", "is_late", "is_frozen_out")


@dataclass(frozen=True)
class InputDeadline:
    closes_at: dt.datetime  # first instant at which an arriving file is late
    frozen_at: dt.datetime  # first instant whose arrivals are not used (closing, or end of a reopening)


def input_deadline(cycles: CyclesConfig, cycle_id: str) -> InputDeadline:
    cycle = cycles.get(cycle_id)
    return InputDeadline(closes_at=cycles.closes_at(cycle), frozen_at=cycles.inputs_frozen_at(cycle))


def mark_versions_in_use(
    submissions: pd.DataFrame, first_intake_at: dt.datetime | None, deadline: InputDeadline | None
) -> pd.DataFrame:
    """Add is_late, is_frozen_out and is_latest (the member's latest version that is not frozen out, if intact).

    `submissions` holds one row per accepted version with member_code, version and received_at;
    `first_intake_at` is when the pipeline first saw any file of the cycle. Without a deadline
    (a caller that does not apply the calendar, e.g. a unit test of the intake) nothing is late.
    """
    marked = submissions.copy()
    received = pd.to_datetime(marked["received_at"], utc=True)
    if deadline is None or marked.empty:
        marked["is_late"] = False
        marked["is_frozen_out"] = False
    else:
        marked["is_late"] = received >= pd.Timestamp(deadline.closes_at)
        after_first_intake = received > pd.Timestamp(first_intake_at) if first_intake_at else True
        marked["is_frozen_out"] = (received >= pd.Timestamp(deadline.frozen_at)) & after_first_intake
    in_use = marked[~marked["is_frozen_out"]]
    latest = in_use.groupby("member_code")["version"].max()
    marked["is_latest"] = ~marked["is_frozen_out"] & (marked["version"] == marked["member_code"].map(latest))
    if "archive_state" in marked.columns:
        # The would-be version in use is damaged: on hold, rather than an earlier version in its place.
        marked["archive_state"] = marked["archive_state"].fillna("intact")
        marked["is_latest"] &= marked["archive_state"] == "intact"
    marked["is_late"] = marked["is_late"].astype(bool)
    marked["is_frozen_out"] = marked["is_frozen_out"].astype(bool)
    marked["is_latest"] = marked["is_latest"].astype(bool)
    return marked


def members_on_hold(submissions: pd.DataFrame) -> list[str]:
    """Members whose version in use would be one with a damaged archived copy (marked submissions)."""
    if submissions.empty or "archive_state" not in submissions.columns:
        return []
    in_use = submissions[~submissions["is_frozen_out"]]
    last = in_use.loc[in_use.groupby("member_code")["version"].idxmax()] if not in_use.empty else in_use
    return sorted(last.loc[last["archive_state"].fillna("intact") != "intact", "member_code"].unique())
