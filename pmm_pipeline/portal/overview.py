"""The Secretariat's view of a cycle: completeness per region from the pipeline's record (whichever way files came),
latest verdicts and who sent what from the platform's own records."""

from typing import Any
from urllib.parse import quote

from pmm_pipeline.orchestration.tags import CYCLE_TAG, MEMBER_TAG
from pmm_pipeline.portal.models import Upload


def runs_link(ui_url: str, cycle: str, member: str | None = None) -> str:
    """The Dagster UI's run list filtered by the pipeline's own run tags (orchestration/tags.py)."""
    query = f"q[]={quote(f'tag:{CYCLE_TAG}={cycle}', safe=':/=')}"
    if member:
        query += f"&q[]={quote(f'tag:{MEMBER_TAG}={member}', safe=':/=')}"
    return f"{ui_url.rstrip('/')}/runs?{query}"


def latest_verdicts(cycle: str) -> dict[str, Upload]:
    """Each member's latest upload of the cycle that reached the intake (refusals at the door left out)."""
    latest: dict[str, Upload] = {}
    for upload in Upload.objects.filter(cycle=cycle).exclude(status="refused").order_by("received_at", "id"):
        latest[upload.member] = upload
    return latest


def completeness(reference, cycle, lang: str, ui_url: str = "", accepted: set[str] | None = None) -> dict[str, Any]:
    """Per WCO region: members expected, with an accepted version, outstanding (by code and name).

    `accepted`: the members with an accepted version on the pipeline's record (files sent through the platform
    or copied into landing: portal/intake.py); without it, the platform's own uploads.
    """
    in_force = reference.members_in_force(cycle)
    platform = Upload.objects.filter(cycle=cycle.id, status="accepted").values_list("member", flat=True)
    accepted = set(accepted or ()) | set(platform)
    latest = latest_verdicts(cycle.id)
    names = {g.group_code: getattr(g, f"name_{lang}") for g in reference.groups if g.group_type == "region"}
    regions: dict[str, dict[str, Any]] = {}
    for code, membership in sorted(in_force.items()):
        region = regions.setdefault(
            membership.region_code,
            {
                "code": membership.region_code,
                "name": names.get(membership.region_code, membership.region_code),
                "expected": 0,
                "received": 0,
                "outstanding": [],
                "members": [],
            },
        )
        region["expected"] += 1
        upload = latest.get(code)
        region["members"].append(
            {
                "code": code,
                "name": membership.name(lang),
                "latest": upload,
                "has_accepted": code in accepted,
                "runs": runs_link(ui_url, cycle.id, code),
            }
        )
        if code in accepted:
            region["received"] += 1
        else:
            region["outstanding"].append({"code": code, "name": membership.name(lang)})
    rows = sorted(regions.values(), key=lambda r: r["code"])
    return {
        "regions": rows,
        "expected": sum(r["expected"] for r in rows),
        "received": sum(r["received"] for r in rows),
    }
