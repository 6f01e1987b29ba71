"""Forgiving look-up of the ids people type: case ignored, and a near miss answered with what they meant.

Every id the command line accepts (cycle, member, KPI, language, format, command) goes through
`choose`, so they all behave alike: `--member ken` is KEN, and `--kpi electronic_declaration_rat`
is a one-line error naming `electronic_declaration_rate`, listing every known id when there are few.
"""

import difflib
from collections.abc import Callable, Iterable

# Up to this many known ids, an error lists them all; beyond, only the nearest ones (and where to look).
LIST_ALL_UP_TO = 12
# How close a near miss must be (difflib's ratio) to be suggested; 0.6 is difflib's own default.
CUTOFF = 0.6


class UnknownChoice(ValueError):
    """An id that is none of the known ones; the message is one line with suggestions."""

    def __init__(self, message: str, suggestions: list[str]):
        self.suggestions = suggestions
        super().__init__(message)


def describe_unknown(
    kind: str,
    given: str,
    suggestions: list[str],
    known: list[str],
    hint: str | None,
    list_all_up_to: int = LIST_ALL_UP_TO,
) -> str:
    """`unknown member 'KNE' (did you mean KEN?); see ...` or `...; known: 2023, 2025`, on one line."""
    text = f"unknown {kind} {given!r}"
    if suggestions:
        text += f" (did you mean {_either(suggestions)}?)"
    if len(known) <= list_all_up_to:
        text += f"; known: {', '.join(known) if known else 'none'}"
    elif hint:
        text += f"; {hint}"
    return text


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from a to b: a typo of KEN as KNE is one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def nearest(given: str, known: Iterable[str], fold: Callable[[str], str] = str.casefold, n: int = 3) -> list[str]:
    """The known ids closest to `given` (compared folded), best first: few edits away (a swap of two
    neighbours counts as one, and the same letters in another order rank first), similar by difflib's
    ratio, or containing what was typed (a prefix typed alone, "electronic")."""
    by_folded: dict[str, str] = {}
    for k in known:
        by_folded.setdefault(fold(k), k)
    typed = fold(given.strip())
    if not typed:
        return []
    scored = []
    for folded, original in by_folded.items():
        distance = edit_distance(typed, folded)
        ratio = difflib.SequenceMatcher(None, typed, folded).ratio()
        if distance <= max(1, len(typed) // 4) or ratio >= CUTOFF or (len(typed) >= 3 and typed in folded):
            scored.append((distance, sorted(typed) != sorted(folded), -ratio, original))
    return [original for *_, original in sorted(scored)[:n]]


def choose(
    kind: str,
    given: str,
    known: Iterable[str],
    *,
    fold: Callable[[str], str] = str.casefold,
    hint: str | None = None,
    list_all_up_to: int = LIST_ALL_UP_TO,
) -> str:
    """The known id `given` names, case and surrounding spaces ignored; else UnknownChoice.

    Two known ids that differ only in case would make the answer ambiguous: then only an exact
    match is accepted.
    """
    known = list(dict.fromkeys(known))
    text = given.strip()
    if text in known:
        return text
    folded = [k for k in known if fold(k) == fold(text)]
    if len(folded) == 1:
        return folded[0]
    suggestions = nearest(text, known, fold)
    raise UnknownChoice(describe_unknown(kind, given, suggestions, sorted(known), hint, list_all_up_to), suggestions)
