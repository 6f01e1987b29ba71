"""Where a field of a parsed submission sits in its file (a JSON pointer, a sheet's cell), for a problem to name."""

from typing import Any

from pmm_pipeline.stages.ingestion.submission import Location, ParsedSubmission


def pointer_part(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")  # RFC 6901 escaping


def field_location(parsed: ParsedSubmission, name: str) -> Location:
    if name in parsed.field_locations:
        return parsed.field_locations[name]
    if parsed.format == "json":
        return Location(pointer=f"/{'format' if name == 'format_name' else name}")
    return Location()


def disclosure_location(parsed: ParsedSubmission, kpi_id: Any) -> Location:
    if isinstance(kpi_id, str) and kpi_id in parsed.disclosure_locations:
        return parsed.disclosure_locations[kpi_id]
    return Location(pointer=f"/disclosure/{pointer_part(kpi_id)}") if parsed.format == "json" else Location()
