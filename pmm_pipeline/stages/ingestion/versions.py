"""How a member's submission versions are ordered, and so numbered: version n is the n-th by `version_order`."""

import datetime as dt

# Versions are ordered by submitted_at, which readers accept only up to the receipt time (plus a small
# clock tolerance): bounded again here, so that no date stated in a file can outrank what came after it.
ORDER_CLOCK_BOUND = dt.timedelta(days=1)


def ordering_time(submitted_at: dt.datetime, received_at: dt.datetime) -> dt.datetime:
    """When a version counts as submitted for ordering: its stated time, never beyond its receipt (+ tolerance)."""
    return min(submitted_at, received_at + ORDER_CLOCK_BOUND)


def version_order(
    submitted_at: dt.datetime, received_at: dt.datetime, sha256: str | None, file_name: str
) -> tuple[dt.datetime, dt.datetime, str, str]:
    """Where a member's accepted version stands among its others: version n is the n-th by this key.

    The one definition of how versions are numbered: the intake numbers them by it, and the platform's verdict
    (stages/delivery/) gives the version a new upload will get by it.
    """
    return (ordering_time(submitted_at, received_at), received_at, sha256 or "", file_name)
