"""The platform in English, French and Spanish: every message translated, compiled catalogues up to date, used."""

import re

import pytest

from pmm_pipeline_tests.portal_fixtures import PASSWORD, make_account, portal  # noqa: F401

PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_every_message_of_the_code_and_templates_is_translated(portal, lang):  # noqa: F811
    from pmm_pipeline.portal.catalogues import read_catalogue, source_messages

    catalogue = read_catalogue(lang)
    translated = {m.id: m.string for m in catalogue if m.id and m.string and "fuzzy" not in m.flags}
    used = source_messages()
    assert len(used) > 50  # the extraction found the platform's messages at all
    missing = sorted(used - set(translated))
    assert not missing, f"messages without a {lang} translation: {missing}"
    for msgid in used:
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(translated[msgid])), msgid


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_the_committed_mo_is_the_compiled_po(lang):
    from pmm_pipeline.portal.catalogues import compiled, po_path

    committed = po_path(lang).with_suffix(".mo").read_bytes()
    assert committed == compiled(lang), f"run: python -m pmm_pipeline.portal.catalogues ({lang} .mo is out of date)"


def test_pages_are_in_the_accounts_language_and_switchable(portal):  # noqa: F811
    from django.test import Client

    user = make_account("ncp", "SEN", lang="fr")
    client = Client()
    anonymous = client.get("/sign-in/", HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="es">' in anonymous.content.decode() and "Iniciar sesión" in anonymous.content.decode()
    client.post("/sign-in/", {"username": user.username, "password": PASSWORD})
    page = client.get("/").content.decode()
    assert '<html lang="fr">' in page and "Vos soumissions pour SEN" in page
    client.post("/language/", {"language": "es", "next": "/"})
    user.pmm.refresh_from_db()
    assert user.pmm.lang == "es"
    assert "Sus envíos para SEN" in client.get("/").content.decode()
    # an outside address as `next` is not followed
    response = client.post("/language/", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"
