"""Synthetic submissions as members send them offline: a filled Excel questionnaire, or a flat CSV export.

Both carry exactly the content of the JSON document they are written from. The CSV follows the
member's locale as spreadsheet programs do: `;` and decimal commas with a byte-order mark for
French- and Spanish-speaking members, `,` and decimal points otherwise.
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.flat import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from pmm_pipeline.stages.questionnaire.template import render_questionnaire


@dataclass(frozen=True)
class SampleContext:
    """What writers need beyond the document: the reference (members' languages) and the catalogue."""

    reference: Reference
    catalogue: Catalogue


def _language(document: dict[str, Any], context: SampleContext | None) -> str:
    if context is None:
        return "en"
    cycle = context.reference.cycles.get(document["cycle"])
    membership = context.reference.members_in_force(cycle).get(document["member"])
    return membership.language if membership else "en"


def _number_text(value: Any, decimal_comma: bool) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace(".", ",") if decimal_comma and isinstance(value, float) else text


def render_csv(document: dict[str, Any], language: str) -> bytes:
    """The document as a flat CSV export in the conventions of `language`."""
    decimal_comma = language in ("fr", "es")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if decimal_comma else ",", lineterminator="\r\n")
    writer.writerow(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    head = [document["member"], document["cycle"], document["submitted_at"]]
    for answer in document["answers"]:
        value = answer.get("value")
        writer.writerow(
            head
            + [answer["item"], answer["year"], "" if value is None else _number_text(value, decimal_comma)]
            + [answer.get("status", ""), answer.get("comment", ""), "", ""]
        )
    for kpi_id, level in sorted(document.get("disclosure", {}).items()):
        writer.writerow(head + ["", "", "", "", "", kpi_id, level])
    text = buffer.getvalue()
    return ("\ufeff" + text).encode("utf-8") if decimal_comma else text.encode("utf-8")


def csv_writer(document: dict[str, Any], context: SampleContext | None) -> tuple[str, bytes]:
    return ".csv", render_csv(document, _language(document, context))


def xlsx_writer(document: dict[str, Any], context: SampleContext | None) -> tuple[str, bytes]:
    """The member's questionnaire, in its language, filled in with the document's answers."""
    if context is None:
        raise ValueError("the xlsx sample format needs the catalogue and the reference (a SampleContext)")
    submitted_at = dt.datetime.fromisoformat(document["submitted_at"].replace("Z", "+00:00")).replace(tzinfo=None)
    data = render_questionnaire(
        context.catalogue,
        context.reference,
        document["cycle"],
        document["member"],
        filled=document,
        created=submitted_at,
    )
    return ".xlsx", data
