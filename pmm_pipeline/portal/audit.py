"""The audit trail: every sign-in (and failed attempt), upload, download, choice change, note and account change.

Callers pass only what may be shown (logins, codes, hashes, file names): never a password or a token. `audit_for`
is what `pmm trace` shows beside an answer: who sent the file with that SHA-256, when and from where.
"""

from typing import Any

from pmm_pipeline.portal.models import AuditEvent, Upload

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "upload",
    "upload_refused",
    "download",
    "disclosure_change",
    "note",
    "account_add",
    "account_disable",
    "account_assign",
    "token_issued",
    "language_change",
)


def client_ip(request) -> str | None:
    """The peer's address. Behind the production proxy, the proxy's own; see the README's production notes."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str, *, login: str = "", request=None, member: str = "", cycle: str = "", sha256: str = "", **detail: Any
) -> AuditEvent:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEvent.objects.create(
        action=action,
        login=login or "",
        ip=client_ip(request),
        member=member or "",
        cycle=cycle or "",
        sha256=sha256 or "",
        detail=detail,
    )


def audit_for(member: str, cycle: str, sha256: str) -> list[dict[str, Any]]:
    """The platform's record of one received file: uploads with that hash and the events about it, oldest first."""
    uploads = Upload.objects.filter(member=member, cycle=cycle, sha256=sha256).order_by("received_at", "id")
    events = AuditEvent.objects.filter(member=member, cycle=cycle, sha256=sha256).order_by("at", "id")
    rows = [
        {
            "what": "received",
            "at": u.received_at.isoformat(),
            "login": u.login,
            "ip": u.ip,
            "channel": u.channel,
            "file_name": u.file_name,
            "status": u.status,
            "version": u.version,
            "reason_code": u.reason_code or None,
        }
        for u in uploads
    ]
    rows += [{"what": e.action, "at": e.at.isoformat(), "login": e.login, "ip": e.ip, **e.detail} for e in events]
    return sorted(rows, key=lambda r: r["at"])
