"""A member's versions of a cycle with their verdicts, newest first, from files only (never the warehouse)."""

import datetime as dt
import json
from typing import Any

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.stages.delivery.errors import DeliveryError
from pmm_pipeline.stages.delivery.inputs import load_inputs
from pmm_pipeline.stages.delivery.records import ACCEPTED, KnownFile, cycle_records, version_among
from pmm_pipeline.stages.ingestion.quarantine import quarantine_stem


def _reason(settings: Settings, cycle: str, file: KnownFile) -> dict[str, Any]:
    """What the quarantine's reason file says of a rejected file copied into landing (its code and problems)."""
    if not file.sha256:
        return {}
    path = settings.layout.quarantine_dir(cycle) / f"{quarantine_stem(file.sha256, file.file_name)}.reason.json"
    try:
        reason = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(reason, dict):
        return {}
    problems = [
        {"code": p.get("code"), "message": p.get("message"), "place": p.get("location")}
        for p in reason.get("problems") or []
        if isinstance(p, dict)
    ]
    return {"reason_code": reason.get("reason_code"), "problems": problems}


def member_versions(settings: Settings, cycle: str, member: str, now: dt.datetime | None = None) -> list[dict]:
    """Every file of `member` for `cycle` (sent through the platform or copied into landing), newest first.

    Each: `version` (as the intake numbers it; None when not accepted), `status`, `reason_code`, `sha256`,
    `file_name` (what the sender called it), `landing_name`, `received_at` (ISO, UTC; None for a hand-copied file
    no run has listed yet), `channel`, `account`, `taken_in` (a run has recorded it), `problems`, `findings`.
    """
    inputs = load_inputs(settings)
    if cycle not in inputs.reference.cycles.ids:
        raise DeliveryError(f"unknown cycle {cycle!r}")
    ctx = inputs.context(cycle)
    layout = settings.layout
    records = cycle_records(layout.archive_dir, layout.landing_dir(cycle), ctx, settings.intake_limits)
    pending_at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    rows = []
    for file in records.files:
        if file.member != member:
            continue
        verdict = dict(file.arrival.verdict) if file.arrival else {}
        status = "accepted" if file.status == ACCEPTED else "rejected"
        if (verdict.get("status") == ACCEPTED) != (status == ACCEPTED):
            # A run judged it otherwise since (the catalogue or the calendar changed): the record speaks.
            verdict = {}
        if not verdict and status == "rejected":
            verdict = _reason(settings, cycle, file)
        version = version_among(records, member, file.order_key(pending_at), pending_at) if status == ACCEPTED else None
        rows.append(
            {
                "version": version,
                "status": status,
                "member": member,
                "cycle": cycle,
                "sha256": file.sha256,
                "reason_code": None if status == ACCEPTED else verdict.get("reason_code") or file.status,
                "file_name": (file.arrival.uploaded_as if file.arrival else "") or file.file_name,
                "landing_name": file.file_name,
                "received_at": file.received_at.isoformat() if file.received_at else None,
                "channel": file.channel,
                "account": file.arrival.account if file.arrival else None,
                "taken_in": file.receipt is not None,
                "problems": list(verdict.get("problems") or []),
                "findings": list(verdict.get("findings") or []),
            }
        )
    # Newest first; a file no run has listed yet is received after all the others (ISO times in UTC sort as text).
    rows.sort(key=lambda r: (r["received_at"] or "9999", r["landing_name"]), reverse=True)
    return rows


def members_with_accepted_version(settings: Settings, cycle: str) -> set[str]:
    """The members with an accepted version of `cycle` on record, whichever way it came (the platform, or a file
    copied into landing and taken in by a run): the pipeline's own record, from files only (never the warehouse).
    Files copied into landing that no run has read yet are not counted: the record does not know them yet."""
    inputs = load_inputs(settings)
    if cycle not in inputs.reference.cycles.ids:
        raise DeliveryError(f"unknown cycle {cycle!r}")
    layout = settings.layout
    records = cycle_records(
        layout.archive_dir, layout.landing_dir(cycle), inputs.context(cycle), settings.intake_limits, pending=False
    )
    return {f.member for f in records.files if f.status == ACCEPTED and f.member and f.sha256}
