"""Text a received file brings: normalised once, refused when it cannot be stored, quoted only in short.

Every string a reader puts into a ParsedSubmission (comments, codes, levels typed as text, contact
fields, sheet names, disclosure keys and values, anything nested in a JSON value) goes through
`normalise_tree` before validation looks at it: Unicode NFC, line breaks as `\\n`, surrounding
whitespace trimmed. What then still holds a lone surrogate (JSON `"\\ud800"`), a control character
other than tab and line feed, or a Unicode non-character cannot be stored by DuckDB, written to a
workbook or shown safely, so the file is rejected (`bad_text`) naming the place; a text longer than
PMM_MAX_TEXT_LENGTH is `text_too_long`. The walk is generic over dataclasses, mappings and
sequences, so a field added to a reader later is covered without a change here.

`quote` (and core.text's `printable`) are for the other direction: whatever part of a file is echoed into a
message, a reason file, a log or feedback is cut short and escaped, never copied whole.
`storable_text` is for what is stored whatever it holds (a file name's undecodable bytes, a message or a row
quoting them): lone surrogates escaped, so that UTF-8 (and DuckDB) can hold it.
"""

import dataclasses
import re
import reprlib
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from pmm_pipeline.core.text import printable

# Lone surrogates, C0 controls except tab and line feed, DEL and C1 controls, and the 66
# non-characters (U+FDD0..U+FDEF and the last two code points of every plane).
_UNSTORABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)
QUOTE_LENGTH = 60  # characters of file content shown in a message
MAX_DEPTH = 32  # levels of fields, lists and objects walked into (a submission needs 4)
SHOWN_LENGTH = 200  # characters of a value or place kept in a problem (feedback shows them)
MESSAGE_LENGTH = 500  # characters of one problem's message
# A repr that looks at a few items of a container, never the whole of a megabyte of nested lists.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxtuple, _SHORT_REPR.maxdict = 3, 5, 5, 5
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = _SHORT_REPR.maxlong = 2 * QUOTE_LENGTH


def first_unstorable(text: str) -> int | None:
    """Index of the first character that cannot be stored or shown safely, or None."""
    match = _UNSTORABLE.search(text)
    return None if match is None else match.start()


def normalise(text: str) -> str:
    """NFC, Windows and old Mac line breaks as `\\n`, surrounding whitespace trimmed.

    A CRLF inside a quoted CSV cell or an Excel cell is an ordinary line break, not a control
    character to refuse. NFC is skipped for ASCII text, which it leaves as it is (the usual codes
    and numbers).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def quote(value: Any, limit: int = QUOTE_LENGTH) -> str:
    """A short, repr-style quotation of file content for a message: `'abc'`, `'abc…' (5000 characters)`."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{repr(value[:limit])[:-1]}…' ({len(value)} characters)"
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({type(value).__name__})"


def storable_text(text: str) -> str:
    """`text` with lone surrogates (undecodable bytes of a name, `\\ud800` escapes) escaped: UTF-8 can hold it."""
    if not isinstance(text, str):
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(
            (f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}")
            if 0xD800 <= ord(c) <= 0xDFFF
            else c
            for c in text
        )


_SCALARS = frozenset({int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type (None for other types), looked up once per type."""
    if kind not in _FIELD_NAMES:
        is_dataclass = dataclasses.is_dataclass(kind)
        _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind)) if is_dataclass else None
    return _FIELD_NAMES[kind]


@dataclasses.dataclass(frozen=True)
class TextIssue:
    """A text that cannot be taken in: where it is (for the message) and why."""

    code: str  # bad_text, text_too_long, or bad_structure for a value nested too deep
    path: tuple[Any, ...]  # field names, keys and indexes from the root of the walk
    detail: str  # what is wrong, to follow the name of the field ("the comment of an answer ...")


def _check(text: str, path: tuple[Any, ...], max_length: int) -> TextIssue | None:
    bad = first_unstorable(text)
    if bad is not None:
        return TextIssue(
            "bad_text",
            path,
            f"holds the character {printable(text[bad])} at position {bad + 1}"
            f" ({quote(text[max(0, bad - 20) : bad + 20])}), which cannot be stored: a control character,"
            " an unpaired surrogate or a Unicode non-character; remove it and send the file again",
        )
    if len(text) > max_length:
        return TextIssue(
            "text_too_long",
            path,
            f"has {len(text)} characters, over the limit of {max_length} ({quote(text)}); shorten it",
        )
    return None


def normalise_tree(
    value: Any,
    max_length: int,
    issues: list[TextIssue],
    path: tuple[Any, ...] = (),
    skip: Callable[[str], bool] | None = None,
) -> Any:
    """`value` with every string in it normalised; what cannot be taken in is added to `issues`.

    Dataclass fields named by `skip` are left as they are (the reader's own problems, for one).
    Mapping keys are normalised like values, so that two keys meaning the same text collide the
    same way whatever their form.
    """
    kind = type(value)
    if kind in _SCALARS:  # most of a submission: years and numbers
        return value
    if len(path) > MAX_DEPTH:
        # No field of a submission nests this deep; a JSON value of 500 nested lists would otherwise
        # exhaust Python's recursion limit here.
        issues.append(TextIssue("bad_structure", path[:MAX_DEPTH], f"is nested more than {MAX_DEPTH} levels deep"))
        return value
    if isinstance(value, str):
        text = normalise(value)
        issue = _check(text, path, max_length)
        if issue is not None:
            issues.append(issue)
        return text
    names = _field_names(kind)
    if names is not None:
        changes = {}
        for name in names:
            if skip is not None and skip(name):
                continue
            old = getattr(value, name)
            new = normalise_tree(old, max_length, issues, (*path, name), skip)
            if new is not old:
                changes[name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, Mapping):
        return {
            normalise_tree(k, max_length, issues, (*path, "(key)"), skip): normalise_tree(
                v, max_length, issues, (*path, k if isinstance(k, str | int) else "(key)"), skip
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        items = [normalise_tree(v, max_length, issues, (*path, i), skip) for i, v in enumerate(value)]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(items) if isinstance(value, tuple) else items
    return value
