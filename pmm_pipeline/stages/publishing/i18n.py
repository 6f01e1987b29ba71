"""The readers' texts of the releases, reports and profiles, from gettext catalogues (domain `pmm`).

Messages are written in English in the code (`_("...")` inside a function, `N_("...")` for a text declared
once at module level and translated where it is shown); French and Spanish are in
`pmm_pipeline/locale/<lang>/LC_MESSAGES/pmm.po`, which a translator edits without touching Python, and
the compiled `pmm.mo` beside each is what the pipeline reads. After editing a `.po` file, compile with
`python -m pmm_pipeline.stages.publishing.i18n` (Babel); a test fails when a message of the code has no
translation in either language, or when a committed `.mo` is not its `.po` compiled.
"""

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from pmm_pipeline.core.vocabulary import LANGUAGES

DOMAIN = "pmm"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"
SOURCE_LANGUAGE = LANGUAGES[0]  # the language the messages are written in, in the code
TRANSLATED_LANGUAGES = tuple(lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE)


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name, which extraction tools look for)
    """Marks a text for the catalogue where it is declared; it is translated where it is shown."""
    return message


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


# Messages looked up in a language whose catalogue lacks them, by language: shown in English meanwhile, and
# what the catalogue test renders every page to find (a text built where extraction cannot see it included).
UNTRANSLATED: dict[str, set[str]] = {lang: set() for lang in TRANSLATED_LANGUAGES}


class _Untranslated(gettext.NullTranslations):
    """The fallback of a catalogue: the English text, and the message noted as lacking its translation."""

    def __init__(self, lang: str):
        super().__init__()
        self.lang = lang

    def gettext(self, message: str) -> str:
        UNTRANSLATED[self.lang].add(message)
        return message


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang`. A language without its compiled catalogue raises instead of falling back to
    English: a French report in English would be published without anyone noticing."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose from {', '.join(LANGUAGES)}")
    if lang == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    catalogue = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])
    catalogue.add_fallback(_Untranslated(lang))
    return catalogue


def translator(lang: str) -> Callable[[str], str]:
    """gettext for one language: English text in, the text in `lang` out."""
    return translations(lang).gettext


def compiled_catalogue(lang: str) -> bytes:
    """The `.mo` bytes Babel compiles from the language's `.po` file (what is committed beside it)."""
    from babel.messages.mofile import write_mo  # a build tool: only needed to compile and to check
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def compile_catalogues() -> list[Path]:
    """Writes every translated language's `.mo` from its `.po`; returns the files written."""
    written = []
    for lang in TRANSLATED_LANGUAGES:
        mo_path(lang).write_bytes(compiled_catalogue(lang))
        written.append(mo_path(lang))
    return written


# The code whose texts are in the catalogue (with `_` and `N_` as the marking functions): the releases, reports
# and profiles here, and the members' feedback (stages/feedback).
SOURCES = (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "feedback")
KEYWORDS = {"_": None, "N_": None}


def messages_in_code() -> dict[str, list[str]]:
    """Every message the code marks for translation -> where (file:line), extracted as Babel does."""
    from babel.messages.extract import extract_from_file

    found: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            for line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS, comment_tags=()
            ):
                found.setdefault(message, []).append(f"{path.name}:{line}")
    return found


if __name__ == "__main__":
    for path in compile_catalogues():
        print(path)
