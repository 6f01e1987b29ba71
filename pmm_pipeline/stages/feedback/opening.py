"""The opening of a member's feedback report in its language: the verdict, the deadline, where to send a
correction and, when the submission passed, its receipt. Pure: words from the catalogues, facts from the verdict.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pmm_pipeline.stages.feedback.texts import headings, title
from pmm_pipeline.stages.feedback.verdict import Deadline, Outcome, Verdict, Version


@dataclass(frozen=True)
class Correction:
    """Where a member sends a correction: the platform's page of its cycle and, if set, the Secretariat's e-mail."""

    platform_url: str
    secretariat_email: str | None = None

    def page(self, cycle: str, member: str) -> str:
        return f"{self.platform_url.rstrip('/')}/cycles/{cycle}/members/{member}/"


@dataclass(frozen=True)
class Opening:
    """What the report opens with, besides the member's name and the cycle."""

    verdict: Verdict
    deadline: Deadline
    correction: Correction
    publication_date: dt.date
    kpi_names: Mapping[str, str]  # KPI id -> name in the member's language


def _day(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d") if value is not None and not pd.isna(value) else "?"


def _moment(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M") if value is not None and not pd.isna(value) else "?"


def _version_facts(version: Version) -> dict[str, Any]:
    return {"version": version.version, "date": _day(version.received_at), "file": version.file_name}


def _reason(code: str, lang: str) -> str:
    try:
        return title(code, lang)
    except KeyError:
        return code


def verdict_paragraphs(opening: Opening, cycle: str, lang: str) -> list[str]:
    """The verdict in sentences: which version is used (or that none is) and what it means for the results."""
    words, verdict = headings(lang), opening.verdict
    lines: list[str] = []
    in_use = verdict.in_use
    if verdict.outcome in (Outcome.used, Outcome.used_with_warnings) and in_use is not None:
        lines.append(words["verdict_used"].format(cycle=cycle, **_version_facts(in_use)))
        if verdict.outcome == Outcome.used:
            lines.append(words["verdict_used_clean"])
        else:
            lines.append(words["verdict_used_warnings"].format(n=verdict.n_warnings))
        lines.append(words["verdict_kpis_used"])
        if verdict.kpis_not_computed:
            names = ", ".join(opening.kpi_names.get(k, k) for k in verdict.kpis_not_computed)
            lines.append(words["verdict_kpis_missing"].format(kpis=names))
    elif verdict.outcome == Outcome.blocked and in_use is not None:
        lines.append(words["verdict_blocked"].format(cycle=cycle, n=verdict.n_blocking, **_version_facts(in_use)))
        lines.append(words["verdict_blocked_kpis"])
    elif verdict.outcome == Outcome.rejected_only:
        lines.append(words["verdict_rejected_only"].format(cycle=cycle))
        lines.append(words["verdict_none_kpis"])
    else:
        lines.append(words["verdict_not_used"].format(cycle=cycle))
        lines.append(words["verdict_none_kpis"])
    for version in verdict.newer_unused:
        key = "verdict_newer_lost" if version.archive_state != "intact" else "verdict_newer_late"
        lines.append(words[key].format(**_version_facts(version)))
    if in_use is not None and verdict.outcome != Outcome.rejected_only:
        for rejected in verdict.rejected_after:
            key = "verdict_later_rejected_unused" if verdict.outcome == Outcome.blocked else "verdict_later_rejected"
            lines.append(
                words[key].format(
                    file=rejected.file_name,
                    date=_day(rejected.received_at),
                    reason=_reason(rejected.reason_code, lang),
                    version=in_use.version,
                )
            )
    return lines


def deadline_paragraphs(opening: Opening, cycle: str, member: str, lang: str) -> list[tuple[str, str]]:
    """(label, text) rows: until when a correction is used, and where to send it."""
    words, deadline = headings(lang), opening.deadline
    day = deadline.last_day.isoformat()
    if not deadline.is_open:
        when = words["deadline_closed"].format(date=day)
    else:
        when = words["deadline_reopened" if deadline.is_reopened else "deadline_open"].format(date=day)
    correction = opening.correction
    rows = [
        (words["deadline"], when),
        (words["where_to_send"], words["send_platform"].format(url=correction.page(cycle, member))),
    ]
    if correction.secretariat_email:
        rows.append(("", words["send_email"].format(email=correction.secretariat_email)))
    else:
        rows.append(("", words["send_secretariat"]))
    return rows


def receipt_rows(opening: Opening, cycle: str, lang: str) -> list[tuple[str, str]]:
    """The receipt of the version in use, for a submission that passed; empty otherwise."""
    verdict = opening.verdict
    if not verdict.has_receipt or verdict.in_use is None:
        return []
    words, version = headings(lang), verdict.in_use
    return [
        (words["file"], version.file_name),
        ("SHA-256", version.sha256),
        (words["receipt_version"], str(version.version)),
        (words["receipt_received"], _moment(version.received_at)),
        (
            words["receipt_next"],
            words["receipt_next_text" if opening.deadline.is_open else "receipt_next_closed"].format(
                cycle=cycle, date=opening.publication_date.isoformat()
            ),
        ),
    ]
