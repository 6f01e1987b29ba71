"""Text cells that a spreadsheet would run as a formula: neutralized in every CSV/Excel output, undone on reading."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_spreadsheet_text(value: object) -> object:
    """Prefix text that a spreadsheet would execute as a formula with `'`; numbers are left as they are.

    Text that already starts with quotes before a trigger gets one more, so that undo_neutralization
    gives back exactly what was written ("'=x" stays "'=x", it does not become "=x").
    """
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def undo_neutralization(value: object) -> object:
    """The text as it was before neutralize_spreadsheet_text."""
    if isinstance(value, str) and value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value
