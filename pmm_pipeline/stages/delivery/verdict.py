"""The verdict the member platform shows for one upload: the pipeline's own judgement of that file."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

ACCEPTED = "accepted"
REJECTED = "rejected"
# The keys of the contract's verdict object (../shared/contract.md, "The member platform"), in its order.
VERDICT_KEYS = ("status", "member", "cycle", "version", "sha256", "reason_code", "problems", "findings")
PROBLEM_KEYS = ("code", "message", "place")
FINDING_KEYS = ("rule", "severity", "item", "year", "message")


@dataclass(frozen=True)
class UploadVerdict:
    status: str  # "accepted" | "rejected"
    member: str | None  # the member the file is credited to (the account's member for an NCP)
    cycle: str
    version: int | None  # the submission version the pipeline records for it (None when rejected)
    sha256: str
    reason_code: str | None  # the first problem's code when rejected (the intake's codes, wrong_member, cycle_closed)
    # [{"code", "message", "place"} + "title", "what_to_do" in the verdict's language, "sheet", "cell", "line",
    # "pointer", "item", "year", "value"]: the very problems the intake records for the file (raw.rejections).
    problems: list[dict]
    # [{"rule", "severity", "item", "year", "message"} + "place", "kpi_id", "title", "what_to_do"]: the quality
    # rules judged on this member's answers in the file alone (as `pmm validate` does).
    findings: list[dict]
    received_at: dt.datetime  # UTC: when the platform received the file = the version's submitted_at
    landing_name: str | None  # the name it was placed under in landing/<cycle>/
    account: str = ""
    lang: str = "en"
    not_checked: list[dict] = field(default_factory=list)  # rules that need other members or earlier cycles

    def as_json(self) -> dict[str, Any]:
        """Exactly the contract's verdict object (the API's 201 body)."""
        return {
            "status": self.status,
            "member": self.member,
            "cycle": self.cycle,
            "version": self.version,
            "sha256": self.sha256,
            "reason_code": self.reason_code,
            "problems": [{k: p.get(k) for k in PROBLEM_KEYS} for p in self.problems],
            "findings": [{k: f.get(k) for k in FINDING_KEYS} for f in self.findings],
        }

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED
