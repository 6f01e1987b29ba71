"""Text bounded for logs, messages and event metadata: on one line, cut with a note of how much was cut."""

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
