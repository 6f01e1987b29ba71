"""When a submission says it was sent: an ISO 8601 date-time, refused before the collection opened or after the
file arrived (beyond the clock tolerance).
"""

import datetime as dt
from typing import Any

from pmm_pipeline.stages.ingestion.context import ValidationContext

# How far a sender's clock may run ahead of ours (or a file be dated before the opening) before its
# submitted_at is refused: the stated time orders versions, so one dated in the future would
# outrank every later correction (a file dated 2099 stayed the member's version for good).
CLOCK_TOLERANCE = dt.timedelta(minutes=10)


def parse_timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across midnight by its offset
        return None


def timestamp_problem(submitted_at: dt.datetime, ctx: ValidationContext, received_at: dt.datetime | None) -> str | None:
    """Why a stated submission time cannot be right, or None."""
    opens_at = ctx.collection_opens_at
    if submitted_at < opens_at - CLOCK_TOLERANCE:
        return (
            f"submitted_at {submitted_at:%Y-%m-%d %H:%M} UTC is before the collection of cycle {ctx.cycle.id} opened"
            f" ({opens_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC); put the date the file was sent"
        )
    if received_at is not None and submitted_at > received_at + CLOCK_TOLERANCE:
        return (
            f"submitted_at {submitted_at:%Y-%m-%d %H:%M} UTC is later than the file was received"
            f" ({received_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC), beyond the"
            f" {CLOCK_TOLERANCE.total_seconds() / 60:g} minutes a clock may be off; put the date the file was sent"
        )
    return None
