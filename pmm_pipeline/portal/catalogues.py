"""The platform's translation catalogues: which messages the code and templates use, and the .mo each .po makes.

`python -m pmm_pipeline.portal.catalogues` compiles every locale/<lang>/LC_MESSAGES/django.po into its .mo (Babel,
no GNU gettext needed); the tests check that no message lacks a translation and that each .mo is up to date.
New messages are added to the .po files with Django's `makemessages` (GNU gettext) or by hand.
"""

import io
from pathlib import Path

PORTAL_DIR = Path(__file__).resolve().parent
LOCALE_DIR = PORTAL_DIR / "locale"
LANGS = ("fr", "es")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
}


def _extract(code: str) -> set[str]:
    from babel.messages.extract import extract_python

    found = set()
    for _lineno, _func, message, _comments in extract_python(io.BytesIO(code.encode()), KEYWORDS, [], {}):
        messages = message if isinstance(message, tuple) else (message,)
        found.update(m for m in messages[:1] if m)
    return found


def source_messages() -> set[str]:
    """Every message id the platform's Python modules and templates mark for translation."""
    from django.utils.translation.template import templatize

    found: set[str] = set()
    for path in sorted(PORTAL_DIR.rglob("*.py")):
        if "migrations" not in path.parts:
            found |= _extract(path.read_text())
    for path in sorted((PORTAL_DIR / "templates").rglob("*.html")):
        found |= _extract(templatize(path.read_text(), origin=str(path)))
    return found


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "django.po"


def read_catalogue(lang: str):
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def compiled(lang: str) -> bytes:
    from babel.messages.mofile import write_mo

    buffer = io.BytesIO()
    write_mo(buffer, read_catalogue(lang))
    return buffer.getvalue()


def main() -> None:
    for lang in LANGS:
        path = po_path(lang).with_suffix(".mo")
        path.write_bytes(compiled(lang))
        print(f"compiled {path}")


if __name__ == "__main__":
    main()
