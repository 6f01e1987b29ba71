"""Numbers typed as text in questionnaires and CSV exports: separators, decimal commas, `%`, never a silent guess.

`1 234,5`, `1.234,5` and `1,234.5` say by themselves which mark is the decimal one. Only a single
`,` or `.` followed by exactly three digits (`1,234`) can be read two ways; the member's locale
decides it, and the caller reports it when the locale's reading cannot be right (a fraction where
a count is needed) or when no locale is known.

A number is kept as a double. One whose digits a double cannot hold (9007199254740993, above
2**53, or twenty significant digits) is reported as `inexact_number`, never rounded in silence:
`exact_float` is the one test, for JSON numbers, text numbers and workbook cells alike.
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pmm_pipeline.stages.ingestion.text import quote

DECIMAL_MARK = {"en": ".", "fr": ",", "es": ","}  # questionnaire language -> decimal mark
GROUP_SPACES = " \u00a0\u202f\u2009'"  # space, no-break, narrow no-break, thin space, Swiss apostrophe
MINUS_SIGNS = "-\u2212\u2013"  # hyphen-minus, minus sign, en dash (what word processors turn '-' into)

_PLAIN = re.compile(r"\d+")
_SCIENTIFIC = re.compile(r"\d+(\.\d+)?[eE][+-]?\d+|\.\d+")
_SPACE_GROUPED = re.compile(r"\d{1,3}(?:[ ]\d{3})+(?:[.,]\d+)?")


@dataclass(frozen=True)
class TextNumber:
    """A number read from text. `alternative` is the other reading when the text was ambiguous."""

    value: float
    is_percent: bool = False
    alternative: float | None = None
    read_as: str = ""  # how an ambiguous text was read, for the message


@dataclass(frozen=True)
class InexactNumber:
    """A number written with more digits than a double keeps (JSON's parse hooks leave it as text)."""

    text: str

    def __repr__(self) -> str:
        return self.text if len(self.text) <= 40 else f"{self.text[:40]}…"


def exact_float(number: int | str | Decimal) -> float | None:
    """The double that is exactly `number` (an int, or decimal digits), or None when it would be rounded.

    Decimal fractions such as 0.1 have no exact binary form; they count as exact when the double's
    shortest decimal form reads back as the same number, i.e. no digit typed is lost.
    """
    if isinstance(number, int):
        value = float(number)  # OverflowError beyond 1e308 is the caller's "not a number"
        return value if int(value) == number else None
    wanted = number if isinstance(number, Decimal) else Decimal(number)
    value = float(wanted)
    if not math.isfinite(value):
        return value  # too large for a double at all: the bounds say so
    return value if Decimal(repr(value)) == wanted else None


@dataclass(frozen=True)
class NotANumber:
    code: str  # not_a_number or ambiguous_number
    message: str


@dataclass(frozen=True)
class PercentOfOne:
    """A number cell shown as a percentage in Excel: 0.125 displayed as 12.5%."""

    fraction: float

    def as_percent(self) -> float:
        return float(Decimal(repr(self.fraction)) * 100)


class _Inexact(Exception):
    pass


def _to_float(digits: str) -> float:
    value = exact_float(digits)
    if value is None:
        raise _Inexact(digits)
    return value


def _grouped(text: str, group: str, decimal: str | None) -> float | None:
    """The value of `text` grouped by `group` with an optional `decimal` mark, if well formed."""
    pattern = rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})*"
    if decimal is not None:
        pattern += rf"{re.escape(decimal)}\d+"
    if not re.fullmatch(pattern, text):
        return None
    digits = text.replace(group, "")
    return _to_float(digits.replace(decimal, ".") if decimal else digits)


def parse_number_text(text: str, decimal_mark: str | None) -> TextNumber | NotANumber:
    """Read a number typed as text; `decimal_mark` ('.' or ',') is the member's locale, None if unknown."""
    original = text
    text = text.strip().strip(GROUP_SPACES)
    is_percent = text.endswith("%")
    if is_percent:
        text = text[:-1].rstrip(GROUP_SPACES)
    sign = 1.0
    if text[:1] in MINUS_SIGNS or text[:1] == "+":
        sign = -1.0 if text[:1] in MINUS_SIGNS else 1.0
        text = text[1:].lstrip()
    for space in GROUP_SPACES:
        text = text.replace(space, " ")

    def done(value: float, **kwargs) -> TextNumber:
        return TextNumber(sign * value, is_percent, **kwargs)

    not_a_number = NotANumber("not_a_number", f"{quote(original)} is not a number")
    if not text:
        return not_a_number
    try:
        if _PLAIN.fullmatch(text) or _SCIENTIFIC.fullmatch(text):
            return done(_to_float(text))
        if " " in text:
            if not _SPACE_GROUPED.fullmatch(text):
                return not_a_number
            return done(_to_float(text.replace(" ", "").replace(",", ".")))
        if "." in text and "," in text:
            decimal = "." if text.rfind(".") > text.rfind(",") else ","
            group = "," if decimal == "." else "."
            value = _grouped(text, group, decimal)
            return not_a_number if value is None else done(value)
        mark = "." if "." in text else ","
        if text.count(mark) > 1:
            value = _grouped(text, mark, None)
            return not_a_number if value is None else done(value)
        whole, _, fraction = text.partition(mark)
        if not whole.isdigit() or not fraction.isdigit():
            return not_a_number
        as_decimal = _to_float(f"{whole}.{fraction}")
        if len(fraction) != 3 or len(whole) > 3 or whole.startswith("0"):
            return done(as_decimal)  # cannot be a thousands separator
        as_thousands = _to_float(whole + fraction)
        if decimal_mark is None:
            return NotANumber(
                "ambiguous_number",
                f"{quote(original)} may be {as_thousands:g} or {as_decimal:g}; write the number without a thousands"
                " separator",
            )
        if decimal_mark == mark:
            return done(as_decimal, alternative=sign * as_thousands, read_as=f"'{mark}' as the decimal mark")
        return done(as_thousands, alternative=sign * as_decimal, read_as=f"'{mark}' as a thousands separator")
    except _Inexact as err:
        rounded = sign * float(Decimal(err.args[0]))
        return NotANumber(
            "inexact_number",
            f"{quote(original)} has more digits than a double-precision number keeps; it would be rounded to"
            f" {rounded:.17g}: send at most 15 significant digits",
        )
    except (InvalidOperation, ValueError):
        return not_a_number
