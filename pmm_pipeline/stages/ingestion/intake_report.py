"""What the intake tells the operator besides the raw tables: the damaged archived copies, and the rejections.

The damaged copies are what the intake's asset check lists and says (defs/ingestion.py); the rejections' log
lines are bounded in number, raw.rejections holding them all.
"""

import pandas as pd

from pmm_pipeline.stages.ingestion.outcomes import IntakeResult
from pmm_pipeline.stages.ingestion.raw_tables import storable_frame

MAX_LOGGED_REJECTIONS = 50


def damaged_copies(result: IntakeResult) -> pd.DataFrame:
    """One row per version on record whose archived copy is gone or altered (what the asset check lists)."""
    rows = [
        {
            "file_name": d.received.file_name,
            "sha256": d.received.sha256,
            "outcome": d.state,
            "expected_sha256": d.error.expected,
            "found_sha256": d.error.found or "missing",
            "archive_path": str(d.error.path),
            "member_code": d.record.member_code,
            "received_at": d.received.received_at.isoformat(),
        }
        for d in result.damaged
    ]
    columns = [
        "file_name",
        "sha256",
        "outcome",
        "expected_sha256",
        "found_sha256",
        "archive_path",
        "member_code",
        "received_at",
    ]
    return storable_frame(pd.DataFrame(rows, columns=columns))


def damaged_copies_description(damaged: pd.DataFrame, members_on_hold: list[str], listed: int = 20) -> str:
    """What the failed check says: which files, what is wrong with each, and what to do."""
    names = [
        f"{row.file_name} (sha256 {row.sha256}: "
        f"{'missing' if row.found_sha256 == 'missing' else 'found ' + row.found_sha256})"
        for row in damaged.head(listed).itertuples()
    ]
    more = f" and {len(damaged) - listed} more" if len(damaged) > listed else ""
    hold = f" Members on hold (no version used until then): {', '.join(members_on_hold)}." if members_on_hold else ""
    return (
        f"{len(damaged)} archived cop{'y is' if len(damaged) == 1 else 'ies are'} missing or altered:"
        f" {'; '.join(names)}{more}."
        " These versions are kept on record but not used." + hold + " Restore each copy from a backup to its"
        " archive path (listed in this check's metadata), or have the member send the file again."
    )


def intake_log_lines(rejections: pd.DataFrame, limit: int = MAX_LOGGED_REJECTIONS) -> list[str]:
    """Operator log lines for the rejections (storable, bounded in number: raw.rejections has them all)."""
    lines = [
        f"rejected {row.file_name}: [{row.reason_code}] {row.message}" for row in rejections.head(limit).itertuples()
    ]
    if len(rejections) > limit:
        lines.append(f"... and {len(rejections) - limit} more rejection(s): see raw.rejections")
    return lines
