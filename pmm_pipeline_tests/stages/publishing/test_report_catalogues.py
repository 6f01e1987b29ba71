"""The gettext catalogues of the readers' texts: every message translated in French and Spanish, .mo up to date."""

import re
import string

import pytest
from babel.messages.pofile import read_po

from pmm_pipeline.stages.publishing import i18n
from pmm_pipeline_tests.stages.publishing.report_inputs import context, hand_made_profile_inputs, tables


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


@pytest.mark.parametrize("lang", i18n.TRANSLATED_LANGUAGES)
def test_rendering_a_profile_looks_up_only_translated_messages(lang):
    from pmm_pipeline.stages.publishing.profile_document import build_profile
    from pmm_pipeline.stages.publishing.profile_page import render_profile
    from pmm_pipeline.stages.publishing.report import format_number

    inputs = hand_made_profile_inputs(lang)
    document = build_profile("KEN", inputs)
    rate = next(e for e in document["kpis"] if e["kpi_id"] == "electronic_declaration_rate")
    assert rate["previous"] == {"cycle": "2021", "value": 90.0, "status": "reported", "comparable": True, "change": 5.0}
    share = next(e for e in document["kpis"] if e["kpi_id"] == "aeo_trade_share")
    assert share["previous"]["comparable"] is False and share["previous"]["change"] is None
    i18n.UNTRANSLATED[lang].clear()
    page = render_profile(document, lang, inputs)
    assert i18n.UNTRANSLATED[lang] == set()
    assert f'<html lang="{lang}">' in page and "Kenya (KEN)" in page or "Kenia (KEN)" in page
    assert i18n.translator(lang)("Your value") in page
    assert rate["target"] == 98.0 and share["target"] is None
    assert f"{i18n.translator(lang)('Your target')}:</strong> {format_number(98.0, lang)} %" in page
    assert rate["history"] == [{"cycle": "2021", "value": 90.0, "status": "reported", "comparable_with_previous": None}]
    assert page.count("<svg class='chart position'") == 2 and page.count("<svg class='chart trend'") == 2
