"""An answer's value as its item's number or level: levels by code or label, numbers typed as text read in the
member's locale, integers kept exact, and every number within the plausible bounds of the item's type.
"""

import math
from typing import Any

from pmm_pipeline.specs.catalogue.models import Item, ItemType
from pmm_pipeline.stages.ingestion.numbers import (
    InexactNumber,
    NotANumber,
    PercentOfOne,
    exact_float,
    parse_number_text,
)
from pmm_pipeline.stages.ingestion.text import quote


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a double
        return False


def _exact(item: Item, value: int | float) -> float | NotANumber:
    """A file's number as a double, or why it cannot be one without rounding."""
    if isinstance(value, float):
        return value
    try:
        exact = exact_float(value)
    except OverflowError:
        exact = math.inf
    if exact is None:
        return NotANumber(
            "inexact_number",
            f"{item.code}: {quote(value)} has more digits than a double-precision number keeps (above 2**53);"
            f" it would be rounded to {float(value):.17g}: send at most 15 significant digits",
        )
    return exact


def convert_value(
    item: Item, value: Any, numbers_as_text: bool, decimal_mark: str | None
) -> tuple[float, str | None] | NotANumber:
    """(number, level code) for a valid value, or the code and message saying why it is not one."""
    if item.is_categorical:
        levels = item.answer_levels
        if isinstance(value, bool) and item.type.value == "yes_no":
            value = "yes" if value else "no"
        if isinstance(value, str):
            code = value.strip().lower()
            for level in levels:
                if code in (level.code, level.labels.en.lower(), level.labels.fr.lower(), level.labels.es.lower()):
                    return level.score, level.code
        elif _is_number(value):
            for level in levels:
                if float(value) == level.score:
                    return level.score, level.code
        allowed = ", ".join(lv.code for lv in levels)
        return NotANumber("unknown_level", f"{quote(value)} is not one of the levels of {item.code} ({allowed})")
    if isinstance(value, InexactNumber):
        return NotANumber(
            "inexact_number",
            f"{item.code}: {value!r} has more digits than a double-precision number keeps; it would be rounded"
            f" to {float(value.text):.17g}: send at most 15 significant digits",
        )
    if isinstance(value, PercentOfOne):
        if item.type == ItemType.percent:
            return value.as_percent(), None
        return NotANumber(
            "not_a_number", f"{item.code} is formatted as a percentage ({value.as_percent():g}%) but is in {item.unit}"
        )
    if isinstance(value, str):
        if not numbers_as_text:
            return NotANumber("not_a_number", f"text {quote(value)} where {item.code} needs a number")
        parsed = parse_number_text(value, decimal_mark)
        if isinstance(parsed, NotANumber):
            return NotANumber(parsed.code, f"{item.code}: {parsed.message}")
        if parsed.is_percent and item.type != ItemType.percent:
            return NotANumber("not_a_number", f"{quote(value)} is a percentage, but {item.code} is in {item.unit}")
        if parsed.alternative is not None and item.type == ItemType.count and not parsed.value.is_integer():
            return NotANumber(
                "ambiguous_number",
                f"{quote(value)} of {item.code} reads as {parsed.value:g} with {parsed.read_as} (the member's locale),"
                f" but a count is a whole number; it may mean {parsed.alternative:g}: write it without separators",
            )
        return parsed.value, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _exact(item, value)
        return number if isinstance(number, NotANumber) else (number, None)
    return NotANumber("not_a_number", f"{quote(value)} is not a finite number (item {item.code})")


def bounds_problem(item: Item, value: float) -> NotANumber | None:
    """Why a number cannot be taken in whatever the item: not finite, or beyond its type's plausible bounds."""
    if not math.isfinite(value):
        return NotANumber("not_a_number", f"{item.code}: {value!r} is not a finite number")
    bounds = item.type.bounds
    if bounds is None or value == 0 or bounds.min_abs_nonzero <= abs(value) <= bounds.max_abs:
        return None
    return NotANumber(
        "value_out_of_bounds",
        f"{item.code}: {value:.6g} is outside the plausible bounds of a {item.type.value} ({item.unit}): its size"
        f" must be 0 or between {bounds.min_abs_nonzero:g} and {bounds.max_abs:g}; check the unit and the digits",
    )
