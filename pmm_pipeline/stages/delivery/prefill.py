"""The answers a member's questionnaire is pre-filled with when it downloads it from the platform.

Its latest accepted version of this cycle (as the intake numbers versions); before the first, what it reported in
the latest earlier cycle for the year that is now this cycle's T-1 (the same calendar year: with cycles one year
apart that is the earlier cycle's T; with cycles two years apart no earlier cycle reported it and nothing is
pre-filled, rather than figures of another year in its row). The answers are read back from their verified
archived copies through the intake's reader, never from the warehouse. Pass them to
`render_questionnaire(..., filled={"answers": answers})` (stages/questionnaire/template.py).
"""

import datetime as dt
from typing import Any

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.stages.delivery.errors import DeliveryError
from pmm_pipeline.stages.delivery.inputs import load_inputs
from pmm_pipeline.stages.delivery.records import KnownFile, cycle_records
from pmm_pipeline.stages.ingestion.archive import locate_copy, read_archived
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.ingestion.submission import Submission


def _latest_submission(settings: Settings, cycle_id: str, member: str) -> Submission | None:
    inputs = load_inputs(settings)
    ctx = inputs.context(cycle_id)
    layout, limits = settings.layout, settings.intake_limits
    # Only versions a run or the platform has received: a hand-copied file not taken in yet is not "accepted".
    records = cycle_records(layout.archive_dir, layout.landing_dir(cycle_id), ctx, limits, pending=False)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    for file in sorted(records.accepted_of(member), key=lambda f: f.order_key(far), reverse=True):
        submission = _read_back(settings, file, ctx, limits)
        if submission is not None:
            return submission
    return None


def _read_back(settings: Settings, file: KnownFile, ctx, limits) -> Submission | None:
    archive_dir = settings.layout.archive_dir
    relative = file.receipt.archive_path if file.receipt and file.receipt.archive_path else None
    path = archive_dir / relative if relative else locate_copy(archive_dir, file.sha256, file.file_name)
    try:
        copy = read_archived(path, file.sha256, limits.max_file_bytes)
    except OSError:  # gone or altered (ArchiveIntegrityError is not an OSError): the version before it is tried
        return None
    except Exception:  # noqa: BLE001 - a damaged copy pre-fills nothing; it never stops the download
        return None
    if copy.data is None:
        return None
    outcome = read_file(file.file_name, copy.data, ctx, limits, received_at=file.received_at, arrival=file.arrival)
    return outcome.submission


def _as_json_answer(answer, item_is_categorical: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"item": answer.item, "year": answer.year}
    if answer.status == "reported":
        row["value"] = answer.value_text if item_is_categorical and answer.value_text else answer.value
    else:
        row["status"] = answer.status
    if answer.comment:
        row["comment"] = answer.comment
    return row


def latest_accepted(settings: Settings, cycle: str, member: str) -> dict[str, Any]:
    """The member's latest accepted version of this cycle as the interchange format's `answers` and `disclosure`
    (every answer of the cycle's items), or {} before the first: what a disclosure change is sent again with."""
    _known(settings, cycle)
    latest = _latest_submission(settings, cycle, member)
    if latest is None:
        return {}
    inputs = load_inputs(settings)
    items = inputs.catalogue.items_for_version(inputs.reference.cycles.get(cycle).catalogue_version)
    return {
        "answers": [_as_json_answer(a, items[a.item].is_categorical) for a in latest.answers if a.item in items],
        "disclosure": dict(latest.disclosure),
    }


def prefilled_document(settings: Settings, cycle: str, member: str) -> dict[str, Any]:
    """What `render_questionnaire(..., filled=...)` takes: the pre-filled answers, and the disclosure choices of the
    member's latest accepted version of this cycle (none before the first: choices are made per cycle)."""
    latest = _latest_submission(settings, cycle, member) if _known(settings, cycle) else None
    return {
        "answers": prefilled_answers(settings, cycle, member),
        "disclosure": dict(latest.disclosure) if latest is not None else {},
    }


def _known(settings: Settings, cycle: str) -> bool:
    if cycle not in load_inputs(settings).reference.cycles.ids:
        raise DeliveryError(f"unknown cycle {cycle!r}")
    return True


def prefilled_answers(settings: Settings, cycle: str, member: str) -> list[dict[str, Any]]:
    """The answers (interchange format: item, year, value or status, comment) to pre-fill the questionnaire with."""
    _known(settings, cycle)
    inputs = load_inputs(settings)
    this = inputs.reference.cycles.get(cycle)
    items = inputs.catalogue.items_for_version(this.catalogue_version)

    def shown(submission: Submission, years: set[int]) -> list[dict[str, Any]]:
        return [
            _as_json_answer(a, items[a.item].is_categorical)
            for a in submission.answers
            if a.item in items and a.year in years
        ]

    latest = _latest_submission(settings, cycle, member)
    if latest is not None:
        return shown(latest, set(this.years))
    t_minus_1 = this.reporting_year - 1
    earlier = sorted(
        (c for c in inputs.reference.cycles.cycles if c.reporting_year < this.reporting_year),
        key=lambda c: c.reporting_year,
        reverse=True,
    )
    for previous in earlier:
        if t_minus_1 not in previous.years:
            continue
        submission = _latest_submission(settings, previous.id, member)
        if submission is not None:
            return shown(submission, {t_minus_1})
    return []
