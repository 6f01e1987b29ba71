"""The gettext catalogues of the readers' texts: every message translated in French and Spanish, .mo up to date."""

import re
import string

import pytest
from babel.messages.pofile import read_po

from pmm_pipeline.stages.publishing import i18n
from pmm_pipeline_tests.test_report import context, tables


def catalogue(lang: str):
    with i18n.po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang, domain=i18n.DOMAIN)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("lang", i18n.TRANSLATED_LANGUAGES)
def test_every_message_of_the_code_has_a_translation(lang):
    in_code = i18n.messages_in_code()
    assert len(in_code) > 50  # the extraction found the publishing texts
    po = catalogue(lang)
    lacking = sorted(
        f"{message!r} ({', '.join(where)})"
        for message, where in in_code.items()
        if (entry := po.get(message)) is None or not entry.string or entry.fuzzy
    )
    assert lacking == [], f"{lang}: messages without a translation in {i18n.po_path(lang)}"


@pytest.mark.parametrize("lang", i18n.TRANSLATED_LANGUAGES)
def test_translations_keep_the_placeholders_of_their_message(lang):
    wrong = [
        (m.id, m.string) for m in catalogue(lang) if m.id and m.string and placeholders(m.id) != placeholders(m.string)
    ]
    assert wrong == []


@pytest.mark.parametrize("lang", i18n.TRANSLATED_LANGUAGES)
def test_the_committed_mo_is_its_po_compiled(lang):
    assert i18n.mo_path(lang).read_bytes() == i18n.compiled_catalogue(lang), (
        f"{i18n.mo_path(lang)} is out of date: run python -m pmm_pipeline.stages.publishing.i18n"
    )


def test_a_message_missing_from_a_catalogue_is_caught_when_looked_up():
    i18n.UNTRANSLATED["fr"].discard("a text no catalogue holds")
    assert i18n.translator("fr")("a text no catalogue holds") == "a text no catalogue holds"
    assert "a text no catalogue holds" in i18n.UNTRANSLATED["fr"]
    i18n.UNTRANSLATED["fr"].discard("a text no catalogue holds")


@pytest.mark.parametrize("lang", i18n.TRANSLATED_LANGUAGES)
def test_rendering_a_report_looks_up_only_translated_messages(lang):
    """Catches texts built where extraction cannot see them (inside f-strings, from variables)."""
    from pmm_pipeline.stages.publishing.report import render_report

    i18n.UNTRANSLATED[lang].clear()
    page = render_report(tables(), context(lang), ["kpi_values.csv"])
    assert i18n.UNTRANSLATED[lang] == set()
    assert re.search(rf'<html lang="{lang}">', page)
