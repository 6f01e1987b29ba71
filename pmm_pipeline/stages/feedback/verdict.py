"""What became of a member's submission for a cycle: which version is used, or why none is, and what follows.

Pure: decided from the member's own record (its accepted versions from raw.submissions, its rejected files, the
quality gate's summary of the version it checked) and the cycle's calendar. The feedback report opens with it,
and a member whose submission passed gets a receipt of the version in use.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pandas as pd


class Outcome(str, Enum):
    used = "used"  # a version is in use, admitted by the quality gate, no warning on it
    used_with_warnings = "used_with_warnings"  # in use and admitted; warnings to confirm or explain
    blocked = "blocked"  # a version is on record but the quality gate keeps it out of the KPIs
    rejected_only = "rejected_only"  # every file was rejected: no version to use
    not_used = "not_used"  # versions on record, none usable (received after the cycle closed, or lost copy)


@dataclass(frozen=True)
class Version:
    """One accepted version of the member (a row of raw.submissions)."""

    version: int
    file_name: str
    sha256: str
    file_format: str | None
    received_at: Any
    submitted_at: Any
    is_latest: bool
    is_late: bool = False
    is_frozen_out: bool = False
    archive_state: str = "intact"


@dataclass(frozen=True)
class Rejected:
    """One file of the member that was rejected (a duplicate is not one: its original is used)."""

    file_name: str
    received_at: Any
    reason_code: str


@dataclass(frozen=True)
class Gate:
    """The quality gate on the version in use (a row of quality.member_summary)."""

    is_admitted: bool
    blocking: int
    warnings: int


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    in_use: Version | None  # the version the KPIs use (or the gate checked and blocked)
    rejected_after: tuple[Rejected, ...]  # files rejected since the version in use was received
    newer_unused: tuple[Version, ...]  # accepted versions newer than the one in use that are not used
    kpis_not_computed: tuple[str, ...]  # KPIs a warning says cannot be computed from the version in use
    n_blocking: int = 0  # the quality gate's blocking findings on the version in use
    n_warnings: int = 0  # and its warnings

    @property
    def has_receipt(self) -> bool:
        """Passed: a version is in use and no blocking problem keeps it out of the results."""
        return self.outcome in (Outcome.used, Outcome.used_with_warnings)

    @property
    def version_used(self) -> int | None:
        return self.in_use.version if self.in_use is not None and self.outcome != Outcome.blocked else None


def _moment(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value) if value is not None and not pd.isna(value) else pd.Timestamp.min.tz_localize("UTC")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def decide_verdict(
    versions: Sequence[Version],
    rejected: Sequence[Rejected],
    gate: Gate | None,
    kpis_not_computed: Sequence[str] = (),
) -> Verdict:
    """The verdict of one member from its record; `gate` is None when the quality gate has not run on it."""
    ordered = sorted(versions, key=lambda v: v.version)
    in_use = next((v for v in ordered if v.is_latest), None)
    if in_use is None:
        outcome = Outcome.not_used if ordered else Outcome.rejected_only
        return Verdict(outcome, None, tuple(rejected), tuple(ordered), ())
    since = _moment(in_use.received_at)
    # At or after: files seen in the same intake as the version in use are no history the member moved past.
    rejected_after = tuple(r for r in rejected if _moment(r.received_at) >= since)
    newer_unused = tuple(v for v in ordered if v.version > in_use.version)
    blocking, warnings = (gate.blocking, gate.warnings) if gate is not None else (0, 0)
    if gate is not None and not gate.is_admitted:
        return Verdict(Outcome.blocked, in_use, rejected_after, newer_unused, (), blocking, warnings)
    return Verdict(
        Outcome.used_with_warnings if warnings > 0 else Outcome.used,
        in_use,
        rejected_after,
        newer_unused,
        tuple(sorted(set(kpis_not_computed))),
        blocking,
        warnings,
    )


@dataclass(frozen=True)
class Deadline:
    """Until when a corrected file is used: the collection's closing day, or the end of a reopening."""

    last_day: dt.date
    is_reopened: bool
    is_open: bool  # today is within the window (or the reopening)


def deadline_of(opens: dt.date, closes: dt.date, reopened_until: dt.date | None, today: dt.date) -> Deadline:
    last_day = reopened_until or closes
    return Deadline(last_day, reopened_until is not None, opens <= today <= last_day)
