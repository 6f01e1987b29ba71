"""The one place the platform calls the pipeline: delivery of an upload, the cycle's window, the questionnaire.

Everything the platform knows of validation comes through here from the pipeline's own intake
(stages/delivery/): the platform never checks a submission's content itself. Only the reference data
and the catalogue are read (files), never the warehouse, whose single-writer lock must not make a person wait.
"""

import datetime as dt
import functools
import json
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.core.vocabulary import DEFAULT_DISCLOSURE, TIERS
from pmm_pipeline.specs.catalogue.load import Catalogue, load_catalogue
from pmm_pipeline.specs.reference.load import Reference, load_reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages import delivery

CLOSED = "cycle_closed"


class UploadRefused(ValueError):
    """The pipeline refused the call itself (not the file): an unknown member or cycle, a bad account name."""


class NoVersionYet(LookupError):
    """A disclosure change before any accepted version: there are no answers to send it with."""


@dataclass(frozen=True)
class Specs:
    reference: Reference
    catalogue: Catalogue


@functools.lru_cache(maxsize=4)
def _specs(reference_dir, cycles_file, specs_dir, stamp) -> Specs:
    return Specs(load_reference(reference_dir, cycles_file), load_catalogue(specs_dir))


def specs(settings: Settings) -> Specs:
    """Reference and catalogue, read again when cycles.yaml changes (a reopening takes effect without a restart)."""
    try:
        stamp = settings.cycles_file.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _specs(settings.reference_dir, settings.cycles_file, settings.specs_dir, stamp)


def cycle_of(settings: Settings, cycle_id: str) -> Cycle | None:
    reference = specs(settings).reference
    return reference.cycles.get(cycle_id) if cycle_id in reference.cycles.ids else None


def member_known(settings: Settings, member: str) -> bool:
    return member in specs(settings).reference.known_member_codes()


def accepts_uploads(settings: Settings, cycle_id: str, at: dt.datetime) -> bool:
    """Whether the cycle takes uploads at `at`: its collection window or a reopening (the pipeline's rule)."""
    return delivery.cycle_accepts_uploads(specs(settings).reference, cycle_id, at)


def deliver(
    settings: Settings,
    cycle_id: str,
    file_name: str,
    data: bytes,
    *,
    login: str,
    member: str,
    received_at: dt.datetime,
    lang: str,
) -> dict[str, Any]:
    """Hand a received file to the pipeline's intake; the verdict it returns (the contract's JSON shape).

    The intake archives the file first, records it (accepted or not, a closed cycle included) and places it in the
    cycle's landing folder, where the landing sensor's run picks it up.
    """
    try:
        verdict = delivery.deliver_upload(
            settings, cycle_id, file_name, data, account=login, member=member, received_at=received_at, lang=lang
        )
    except delivery.DeliveryError as err:
        raise UploadRefused(str(err)) from None
    return verdict.as_json()


def versions_on_record(settings: Settings, cycle_id: str, member: str) -> list[dict[str, Any]]:
    """The pipeline's own record of the member's files (newest first)."""
    return delivery.member_versions(settings, cycle_id, member)


def accepted_members(settings: Settings, cycle_id: str) -> set[str]:
    """The members with an accepted version of the cycle on the pipeline's record (platform or landing)."""
    return delivery.members_with_accepted_version(settings, cycle_id)


def prefill(settings: Settings, cycle_id: str, member: str) -> list[dict[str, Any]]:
    """What pre-fills the questionnaire: the latest accepted answers of the cycle, else last cycle's T-1 year."""
    return list(delivery.prefilled_answers(settings, cycle_id, member) or [])


def latest_answers(settings: Settings, cycle_id: str, member: str) -> dict[str, Any]:
    """The member's latest accepted version of this cycle ({"answers", "disclosure"}), or {} before the first."""
    return delivery.latest_accepted(settings, cycle_id, member)


def questionnaire(settings: Settings, cycle_id: str, member: str, lang: str) -> bytes:
    """The member's questionnaire, pre-filled with its latest accepted answers (or last cycle's T-1 year)."""
    from pmm_pipeline.stages.questionnaire.template import render_questionnaire

    s = specs(settings)
    filled = {
        "answers": prefill(settings, cycle_id, member),
        **{k: v for k, v in latest_answers(settings, cycle_id, member).items() if k == "disclosure"},
    }
    return render_questionnaire(s.catalogue, s.reference, cycle_id, member, lang, filled=filled)


def kpis_of(settings: Settings, cycle_id: str, lang: str) -> list[tuple[str, str]]:
    """(KPI id, name in `lang`) of the cycle's catalogue version, in catalogue order."""
    s = specs(settings)
    cycle = s.reference.cycles.get(cycle_id)
    return [
        (k.id, getattr(k.names, lang, None) or k.names.en)
        for k in s.catalogue.kpis_for_version(cycle.catalogue_version)
    ]


def disclosure_document(
    settings: Settings, cycle_id: str, member: str, choices: dict[str, str], received_at: dt.datetime
) -> tuple[str, bytes]:
    """A JSON submission with the member's latest answers and the new choices: a choice change is a new version."""
    latest = latest_answers(settings, cycle_id, member)
    if not latest:
        raise NoVersionYet(member, cycle_id)
    known = {k for k, _ in kpis_of(settings, cycle_id, "en")}
    document = {
        "format": "pmm-submission",
        "format_version": 1,
        "member": member,
        "cycle": cycle_id,
        "submitted_at": received_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "answers": list(latest.get("answers", [])),
        "disclosure": {k: v for k, v in choices.items() if k in known and v in TIERS and v != DEFAULT_DISCLOSURE},
    }
    name = f"{member}_{cycle_id}_disclosure_{received_at.strftime('%Y%m%dT%H%M%S')}.json"
    return name, json.dumps(document, ensure_ascii=False, indent=1).encode()


def current_choices(settings: Settings, cycle_id: str, member: str) -> dict[str, str]:
    return dict(latest_answers(settings, cycle_id, member).get("disclosure") or {})


def profile_page(settings: Settings, cycle_id: str, member: str, lang: str) -> bytes | None:
    """The member's published profile page in `lang`, else English; None before publication. Only a profile whose
    folder reads back as its manifest says is shown (the publishing stage checks it: stages/publishing/profiles.py).
    """
    from pmm_pipeline.stages.publishing.profiles import member_profile_page

    try:
        page = member_profile_page(settings.layout.published_dir(cycle_id), member, lang)
    except (OSError, ValueError):  # altered or half-written: not shown
        return None
    return None if page is None else page.read_bytes()
