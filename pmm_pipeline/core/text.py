"""Text bounded for logs, messages and event metadata: on one line, cut with a note of how much was cut;
and text from outside (a file's content or name, a member's comment) made inert for a terminal or a log."""

import unicodedata

MAX_TEXT_CHARS = 4_000  # a text, path or url value; an error or check description
_LINE_BREAKS = ("\r\n", "\r", "\n", "\u2028", "\u2029", "\x0b", "\x0c", "\x85")


def cut_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` if short enough, else its start and a note of how much was cut."""
    if len(text) <= limit:
        return text
    note = f" … [cut: {len(text) - limit:,} more characters of {len(text):,}]"
    return text[: max(0, limit - len(note))] + note


def one_line(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` on one line (line breaks become spaces), cut to `limit`."""
    for brk in _LINE_BREAKS:
        text = text.replace(brk, " ")
    return cut_text(text.strip(), limit)


def _escape_char(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object, limit: int | None = None) -> str:
    """`text` with every non-printable character escaped, cut to `limit` characters (saying how long it was).

    Safe in a terminal, a table, a workbook cell, a JSON reason file and a one-line log entry whatever a
    file or a member wrote: line breaks (U+2028 too), controls and escape sequences, surrogates,
    bidirectional overrides and non-characters are shown as escapes. The one rule for every place that
    echoes outside text (intake messages, `pmm status`, `pmm trace`, listings).
    """
    text = str(text)
    cut = text if limit is None else text[:limit]
    # Spaces of every kind (a no-break space in "1 234") are harmless and shown as they are.
    shown = "".join(c if c.isprintable() or unicodedata.category(c) == "Zs" else _escape_char(c) for c in cut)
    if limit is not None and len(text) > limit:
        shown += f"… ({len(text)} characters)"
    return shown
