"""Deliberately broken files for a sample cycle: each one kind of problem that intake must reject and name."""

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.submission import FORMAT_VERSION
from pmm_pipeline.stages.sample.documents import latest_documents, render_json
from pmm_pipeline.stages.sample.moments import collection_window, format_timestamp, moment_between, parse_timestamp

ERROR_KINDS = (
    "not_json",
    "unsupported_format_version",
    "unknown_member",
    "cycle_mismatch",
    "unknown_item",
    "year_out_of_range",
    "bad_status",
    "not_a_number",
    "duplicate_answer",
    "empty_file",
)


UNKNOWN_MEMBER_CODE = "XXX"  # user-assigned in ISO 3166-1, so never a real member


@dataclass(frozen=True)
class ErroneousFile:
    """A broken file a member also sent; `expected_reason` is the code intake must reject it with."""

    member: str
    file_name: str
    data: bytes
    expected_reason: str


def _misspelt(code: str, known: set[str]) -> str:
    for candidate in (code[:-1], f"{code}s", f"{code}_old", f"{code}_unknown"):
        if candidate not in known:
            return candidate
    raise AssertionError("unreachable: _unknown is never a catalogue item")


def _corrupt(
    kind: str, document: dict[str, Any], reference: Reference, catalogue: Catalogue, rng: random.Random
) -> bytes:
    """The bytes of `document` broken in the way `kind` names (the document is changed in place)."""
    cycle = reference.cycles.get(document["cycle"])
    t = cycle.reporting_year
    answers = document["answers"]
    if kind == "empty_file":
        return b""
    if kind == "not_json":
        text = render_json(document)
        return text[: max(1, len(text) // 2)]  # a transfer cut short
    if kind == "unsupported_format_version":
        document["format_version"] = FORMAT_VERSION + 1
    elif kind == "unknown_member":
        document["member"] = UNKNOWN_MEMBER_CODE
    elif kind == "cycle_mismatch":
        other_ids = [c for c in reference.cycles.ids if c != cycle.id]
        document["cycle"] = other_ids[0] if other_ids else f"{cycle.id}-previous"
    elif kind == "unknown_item":
        answer = rng.choice(answers)
        answer["item"] = _misspelt(answer["item"], set(catalogue.items))
    elif kind == "year_out_of_range":
        # Reporting the collection year instead of T is the likely slip.
        answer = rng.choice([a for a in answers if a["year"] == t])
        answer["year"] = t + 1
    elif kind == "bad_status":
        answer = rng.choice(answers)
        answer.pop("value", None)
        answer.pop("comment", None)
        answer["status"] = "maybe"
    elif kind == "not_a_number":
        numeric = [a for a in answers if not catalogue.items[a["item"]].is_categorical]
        with_thousands = [a for a in numeric if isinstance(a.get("value"), (int, float)) and a["value"] >= 1000]
        answer = rng.choice(with_thousands or numeric or answers)
        number = answer.get("value")
        answer["value"] = f"{int(number):,}" if isinstance(number, (int, float)) else "1,200"
        answer.pop("status", None)
        answer.pop("comment", None)
    elif kind == "duplicate_answer":
        answers.append(copy.deepcopy(rng.choice(answers)))
    else:
        raise ValueError(f"unknown error kind {kind!r}")
    return render_json(document)


def corrupt_documents(
    documents: Sequence[dict[str, Any]],
    reference: Reference,
    catalogue: Catalogue,
    cycle_id: str,
    error_share: float,
    seed: int = 0,
) -> list[ErroneousFile]:
    """One broken file for a seeded share of the participating members, kinds taken in turn.

    Each is dated after the member's latest valid version, so intake sees a latest version that is
    invalid and must fall back on the valid one.
    """
    if not 0 <= error_share <= 1:
        raise ValueError(f"error_share must be between 0 and 1, got {error_share}")
    latest = latest_documents(documents)
    if error_share == 0 or not latest:
        return []
    rng = random.Random(f"pmm-sample:{seed}:{cycle_id}:errors")
    count = max(1, round(error_share * len(latest)))
    chosen = rng.sample(sorted(latest), count)
    _, closes = collection_window(reference.cycles.get(cycle_id))
    erroneous = []
    for index, member in enumerate(chosen):
        kind = ERROR_KINDS[index % len(ERROR_KINDS)]
        document = copy.deepcopy(latest[member])
        valid_at = parse_timestamp(document["submitted_at"])
        document["submitted_at"] = format_timestamp(moment_between(valid_at, closes, rng, 0.1, 0.9))
        data = _corrupt(kind, document, reference, catalogue, rng)
        erroneous.append(ErroneousFile(member, f"{member}_{cycle_id}_bad_{kind}.json", data, kind))
    return erroneous
