"""Bounded Dagster metadata: what a step reports stays small whatever the members sent.

Metadata goes into Dagster's event log (one row per event, read by the UI in full). Member-supplied
text (comments, file names, problems found in a file) has no useful maximum, so every value is cut
here: text to a length, lists and table rows to a count, JSON strings and nesting to a size, and
the whole metadata of one event to MAX_EVENT_BYTES, with a note saying what was cut. The step guard
(orchestration/failures.py) passes every result of every asset and check through `bound_metadata`,
so no stage can forget it; the builders (table_assets.py) call it too so previews are cut where built.

Member-supplied strings shown in markdown are escaped so they render as the text they are, never as
links, images, HTML or extra table cells.
"""

import math
import re
from collections.abc import Mapping

import dagster as dg

from pmm_pipeline.core.text import MAX_TEXT_CHARS, cut_text, one_line

MAX_MARKDOWN_CHARS = 16_000  # a markdown value (a table preview of some dozens of rows)
MAX_JSON_ITEMS = 500  # entries of one JSON list or object (every member fits: 186)
MAX_JSON_STRING = 500  # one string inside a JSON value
MAX_JSON_DEPTH = 8
MAX_TABLE_ROWS = 50  # records of a table value
MAX_CELL_CHARS = 200  # one cell of a markdown preview
# All metadata of one event, serialized as Dagster stores it: room for an audit failure's few hundred
# findings (what an engineer needs whole), yet 200 times less than the 54 MB one hostile file once made.
MAX_EVENT_BYTES = 256 * 1024
CUT_NOTE_KEY = "pmm/metadata_cut"

# Characters that make markdown text into a table cell break, a link, an image, inline code or HTML.
# (Emphasis marks are left alone: codes such as member_code stay readable, and emphasis hides nothing.)
_MARKDOWN_ESCAPES = {
    "\\": "\\\\",
    "|": "\\|",
    "[": "\\[",
    "]": "\\]",
    "!": "\\!",
    "`": "\\`",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
}


def escape_markdown(text: str) -> str:
    """Member text that renders in markdown as itself: on one line, no link, image, code, HTML or cell break."""
    text = one_line(text, len(text) + 1)
    return "".join(_MARKDOWN_ESCAPES.get(char, char) for char in text)


_MARKDOWN_UNESCAPE = re.compile(r"\\([\\|\[\]!`])|&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}


def unescape_markdown(text: str) -> str:
    """The text `escape_markdown` was given (on one line): for a terminal, which shows no markdown."""
    return _MARKDOWN_UNESCAPE.sub(lambda m: m.group(1) or _ENTITIES[m.group(2)], text)


# A word in angle brackets (`<cycle>`, `<tier>`) with the path or name around it: HTML to markdown, so the UI
# would drop it ("Writes published//public/"); shown as code instead. Only path characters are taken in, so
# punctuation after the path stays outside the code span.
_PLACEHOLDER_TOKEN = re.compile(r"[\w./{}-]*<[A-Za-z][\w-]*>[\w./{}<>-]*")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def markdown_description(text: str | None) -> str | None:
    """A description of ours (asset, op, check) as the UI's markdown should show it: every `<word>` kept.

    Placeholders outside code spans become code (`landing/<cycle>/`); any other `<` that would open an HTML
    tag is written as an entity. Code spans already in the text are left as they are. Idempotent.
    """
    if not text:
        return text
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(_code_placeholders(text[last : span.start()]))
        parts.append(span.group(0))
        last = span.end()
    parts.append(_code_placeholders(text[last:]))
    return "".join(parts)


def _code_placeholders(prose: str) -> str:
    coded = _PLACEHOLDER_TOKEN.sub(lambda m: f"`{m.group(0)}`", prose)
    # Split again: the placeholders are code now, and only the prose between them is left to make safe.
    pieces = re.split(r"(`[^`]*`)", coded)
    return "".join(p if p.startswith("`") else _TAG_START.sub("&lt;", p) for p in pieces)


def markdown_cell(value, limit: int = MAX_CELL_CHARS) -> str:
    """One cell of a markdown table: cut first (so escapes are never split), then escaped."""
    if (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or type(value).__name__ in ("NAType", "NaTType")
    ):
        return ""
    return escape_markdown(cut_text(str(value), limit))


def _cut_markdown(text: str, limit: int) -> str:
    # Cut at a line end so a table keeps whole rows, then say what is missing.
    if len(text) <= limit:
        return text
    kept = text[: limit - 100]  # room for the note
    if "\n" in kept:
        kept = kept[: kept.rindex("\n")]
    dropped_lines = text.count("\n") - kept.count("\n")
    return f"{kept}\n\n… [cut: {dropped_lines:,} more lines, {len(text) - len(kept):,} characters]"


def _bound_json(value, cuts: list[str], depth: int = 0):
    """A JSON-safe copy of `value`, with lists, objects, strings and nesting cut; cuts say so in place."""
    if isinstance(value, str):
        if len(value) > MAX_JSON_STRING:
            cuts.append("strings")
        return cut_text(value, MAX_JSON_STRING)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_JSON_DEPTH:
        cuts.append("nesting")
        return "… [cut: nested too deep]"
    if isinstance(value, Mapping):
        items = list(value.items())
        if len(items) <= MAX_JSON_ITEMS:
            return {cut_text(str(k), MAX_JSON_STRING): _bound_json(v, cuts, depth + 1) for k, v in items}
        # One entry short of the limit, and the note: bounding again changes nothing.
        kept = MAX_JSON_ITEMS - 1
        cuts.append(f"{kept} of {len(items):,} entries")
        bounded = {cut_text(str(k), MAX_JSON_STRING): _bound_json(v, cuts, depth + 1) for k, v in items[:kept]}
        bounded["…"] = f"cut: {len(items) - kept:,} more entries of {len(items):,}"
        return bounded
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if len(items) <= MAX_JSON_ITEMS:
            return [_bound_json(v, cuts, depth + 1) for v in items]
        kept = MAX_JSON_ITEMS - 1
        cuts.append(f"{kept} of {len(items):,} items")
        return [
            *(_bound_json(v, cuts, depth + 1) for v in items[:kept]),
            f"… cut: {len(items) - kept:,} more items of {len(items):,}",
        ]
    if hasattr(value, "item"):  # numpy scalars (GX results, pandas)
        return _bound_json(value.item(), cuts, depth)
    return _bound_json(str(value), cuts, depth)


def _text(text: str, limit: int, cuts: list[str]) -> str:
    if len(text) > limit:
        cuts.append(f"{limit:,} of {len(text):,} characters")
    return cut_text(text, limit)


def _bound_value(value, cuts: list[str]):
    """One metadata value with its own limits applied; raw values are made MetadataValues first."""
    if not isinstance(value, dg.MetadataValue):  # raw values (Dagster's records are tuples: tested after)
        if isinstance(value, str):
            return dg.MetadataValue.text(_text(value, MAX_TEXT_CHARS, cuts))
        if isinstance(value, (dict, list, tuple)):
            return dg.MetadataValue.json(_bound_json(value, cuts))
        return value
    if isinstance(value, dg.TextMetadataValue):
        return dg.MetadataValue.text(_text(value.text or "", MAX_TEXT_CHARS, cuts))
    if isinstance(value, dg.MarkdownMetadataValue):
        md = value.md_str or ""
        if len(md) > MAX_MARKDOWN_CHARS:
            cuts.append(f"{MAX_MARKDOWN_CHARS:,} of {len(md):,} characters")
        return dg.MetadataValue.md(_cut_markdown(md, MAX_MARKDOWN_CHARS))
    if isinstance(value, dg.JsonMetadataValue):
        return dg.MetadataValue.json(_bound_json(value.data, cuts))
    if isinstance(value, dg.PathMetadataValue):
        return dg.MetadataValue.path(_text(str(value.path), MAX_TEXT_CHARS, cuts))
    if isinstance(value, dg.UrlMetadataValue):
        return dg.MetadataValue.url(_text(value.url, MAX_TEXT_CHARS, cuts))
    if isinstance(value, dg.TableMetadataValue):
        if len(value.records) > MAX_TABLE_ROWS:
            cuts.append(f"{MAX_TABLE_ROWS} of {len(value.records):,} rows")
        records = [
            dg.TableRecord({k: _text(v, MAX_JSON_STRING, cuts) if isinstance(v, str) else v for k, v in r.data.items()})
            for r in value.records[:MAX_TABLE_ROWS]
        ]
        return dg.MetadataValue.table(records=records, schema=value.schema)
    return value


def _size(key: str, value) -> int:
    try:
        return len(key) + len(dg.serialize_value(value))
    except Exception:  # a value Dagster cannot serialize fails the event later, with Dagster's own message
        return len(key) + len(repr(value))


def bound_metadata(metadata: Mapping[str, object] | None, max_bytes: int = MAX_EVENT_BYTES) -> dict[str, object]:
    """`metadata` with every value bounded and the whole under `max_bytes`, noting under CUT_NOTE_KEY what was cut.

    Idempotent: bounding bounded metadata changes nothing, so builders and the step guard may both apply it.
    """
    if not metadata:
        return dict(metadata or {})
    bounded: dict[str, object] = {}
    notes: list[str] = []
    earlier_note = ""
    for key, value in metadata.items():
        if key == CUT_NOTE_KEY:  # bounded before (a builder, then the step guard): keep what it said
            earlier_note = getattr(value, "text", str(value))
            continue
        cuts: list[str] = []
        key = cut_text(str(key), 200)
        bounded[key] = _bound_value(value, cuts)
        if cuts:
            notes.append(f"{key}: cut to " + ", ".join(dict.fromkeys(cuts)))
    sizes = {key: _size(key, value) for key, value in bounded.items()}
    # Leave room for the note itself, then replace the largest values until the event fits.
    budget = max_bytes - 2_000
    for key in sorted(sizes, key=sizes.get, reverse=True):
        if sum(sizes.values()) <= budget:
            break
        bounded[key] = dg.MetadataValue.text(
            f"(omitted: {sizes[key]:,} bytes; the metadata of one event is capped at {max_bytes:,} bytes)"
        )
        notes.append(f"{key}: omitted ({sizes[key]:,} bytes)")
        sizes[key] = _size(key, bounded[key])
    if earlier_note or notes:
        bounded[CUT_NOTE_KEY] = dg.MetadataValue.text(cut_text("; ".join(filter(None, [earlier_note, *notes])), 1_500))
    return bounded
