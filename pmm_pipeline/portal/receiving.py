"""Receiving one upload, for the browser and the API alike: bound it, check its type, deliver it, record the verdict.

Pure of HTTP: callers turn the outcome's `status` into a response. The verdict is the intake's (portal/intake.py);
this module only adds what the platform itself must record (who, when, from where) and the door's refusals.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from pmm_pipeline.portal import audit, intake
from pmm_pipeline.portal.models import Upload
from pmm_pipeline.portal.uploads import type_problem

MAX_NAME = 200


@dataclass(frozen=True)
class Outcome:
    status: int  # 201 received (accepted or rejected), 409 cycle closed, 415 not a kind of file taken, 400 refused
    verdict: dict[str, Any]
    upload: Upload | None


def _record(user, request, *, member, cycle, received_at, channel, kind, name, size, sha, verdict, status) -> Upload:
    with transaction.atomic():
        upload = Upload.objects.create(
            account=user,
            login=user.username,
            member=member,
            cycle=cycle,
            received_at=received_at,
            ip=audit.client_ip(request),
            channel=channel,
            kind=kind,
            file_name=name,
            size_bytes=size,
            sha256=sha,
            status=status,
            version=verdict.get("version"),
            reason_code=verdict.get("reason_code") or "",
            verdict=verdict,
        )
        audit.record(
            "upload" if status != "refused" else "upload_refused",
            login=user.username,
            request=request,
            member=member,
            cycle=cycle,
            sha256=sha,
            file_name=name,
            channel=channel,
            kind=kind,
            status=status,
            version=verdict.get("version"),
            reason_code=verdict.get("reason_code"),
            upload=upload.pk,
        )
    return upload


def receive(request, user, cycle_id: str, file_name: str, data: bytes, *, channel: str, kind: str = "file") -> Outcome:
    """Deliver `data` for the account's own member and record what was shown."""
    member = user.pmm.member
    name = (file_name or "upload")[-MAX_NAME:]
    received_at = dt.datetime.now(dt.UTC)
    sha = hashlib.sha256(data).hexdigest()
    why = type_problem(name, data[:8192])
    common = dict(
        member=member,
        cycle=cycle_id,
        received_at=received_at,
        channel=channel,
        kind=kind,
        name=name,
        size=len(data),
        sha=sha,
    )
    if why is not None:
        verdict = {
            "status": "rejected",
            "member": member,
            "cycle": cycle_id,
            "version": None,
            "sha256": sha,
            "reason_code": "unsupported_file_type",
            "problems": [{"code": "unsupported_file_type", "message": why, "place": "whole file"}],
            "findings": [],
        }
        upload = _record(user, request, **common, verdict=verdict, status="refused")
        return Outcome(415, verdict, upload)
    try:
        verdict = intake.deliver(
            settings.PMM_SETTINGS,
            cycle_id,
            name,
            data,
            login=user.username,
            member=member,
            received_at=received_at,
            lang=user.pmm.lang,
        )
    except intake.UploadRefused as err:
        audit.record(
            "upload_refused",
            login=user.username,
            request=request,
            member=member,
            cycle=cycle_id,
            sha256=sha,
            reason=str(err)[:300],
        )
        return Outcome(400, {"error": "refused", "message": str(err)}, None)
    upload = _record(user, request, **common, verdict=verdict, status=verdict["status"])
    return Outcome(409 if verdict.get("reason_code") == intake.CLOSED else 201, verdict, upload)


def history(cycle_id: str, member: str) -> list[dict[str, Any]]:
    """The member's uploads of the cycle with the verdicts shown, newest first (refusals at the door left out)."""
    rows = (
        Upload.objects.filter(cycle=cycle_id, member=member).exclude(status="refused").order_by("-received_at", "-id")
    )
    return [
        {
            **u.verdict,
            "received_at": u.received_at.isoformat(),
            "file_name": u.file_name,
            "sent_by": u.login,
            "channel": u.channel,
            "kind": u.kind,
        }
        for u in rows
    ]
