"""What the pages do beyond who may open them: the pre-filled questionnaire, the Secretariat's accounts and view."""

import io

import openpyxl
import pytest

from pmm_pipeline_tests.portal_fixtures import (  # noqa: F401
    OPEN_CYCLE,
    PASSWORD,
    json_submission,
    make_account,
    portal,
    publish_profiles,
)


def _signed_in(user, password=PASSWORD):
    from django.test import Client

    client = Client()
    assert client.post("/sign-in/", {"username": user.username, "password": password}).status_code == 302
    return client


def test_the_questionnaire_is_prefilled_with_the_latest_accepted_answers_and_the_download_audited(portal):  # noqa: F811
    from pmm_pipeline.portal import receiving
    from pmm_pipeline.portal.models import AuditEvent

    ncp = make_account("ncp", "JPN", lang="es")
    receiving.receive(None, ncp, OPEN_CYCLE, "JPN.json", json_submission("JPN", value=4321), channel="api")
    response = _signed_in(ncp).get(f"/cycles/{OPEN_CYCLE}/members/JPN/questionnaire.xlsx")
    assert response.status_code == 200 and "PMM_JPN_OPEN_es.xlsx" in response["Content-Disposition"]
    answers = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[1]
    values = {(r[0].value, r[3].value): r[4].value for r in answers.iter_rows(min_row=5)}
    assert values[("declarations_total", 2025)] == 4321
    assert AuditEvent.objects.filter(login=ncp.username, action="download", member="JPN").count() == 1


def test_the_secretariat_creates_assigns_and_disables_accounts_in_the_browser(portal):  # noqa: F811
    from django.contrib.auth import get_user_model

    from pmm_pipeline.portal.models import Assignment, AuditEvent

    secretariat = make_account("secretariat")
    client = _signed_in(secretariat)
    new = {"login": "web.ncp.bra", "role": "ncp", "member": "BRA", "lang": "fr", "password": PASSWORD}
    assert client.post("/secretariat/accounts/", new).status_code == 302
    made = get_user_model().objects.get(username="web.ncp.bra")
    assert made.pmm.member == "BRA" and made.pmm.lang == "fr"
    refused = client.post("/secretariat/accounts/", {**new, "login": "web.ncp.x", "member": "ZZZ"})
    assert refused.status_code == 200 and "ZZZ" in refused.content.decode()  # the form again, with the reason
    assert not get_user_model().objects.filter(username="web.ncp.x").exists()

    reviewer = make_account("reviewer")
    client.post(f"/secretariat/accounts/{reviewer.username}/assign/", {"member": "bra"})
    assert Assignment.objects.filter(reviewer=reviewer, member="BRA").exists()

    signed = _signed_in(made)
    client.post("/secretariat/accounts/web.ncp.bra/disable/")
    assert signed.get("/")["Location"].startswith("/sign-in/")  # its session stopped working at once
    from django.test import Client

    again = Client().post("/sign-in/", {"username": "web.ncp.bra", "password": PASSWORD})
    assert again.status_code == 200  # the form again: a disabled account cannot sign in
    actions = set(AuditEvent.objects.filter(login=secretariat.username).values_list("action", flat=True))
    assert {"account_add", "account_assign", "account_disable"} <= actions
    audit_page = client.get("/secretariat/audit/", {"login": secretariat.username}).content.decode()
    assert "account_disable" in audit_page and "web.ncp.bra" in audit_page


def test_the_secretariat_sees_completeness_latest_verdicts_and_links_to_the_runs(portal):  # noqa: F811
    from pmm_pipeline.portal import receiving

    ncp = make_account("ncp", "FRA")
    receiving.receive(None, ncp, OPEN_CYCLE, "FRA.json", json_submission("FRA"), channel="api")
    page = _signed_in(make_account("secretariat")).get("/secretariat/", {"cycle": OPEN_CYCLE}).content.decode()
    assert "Europe" in page and ncp.username in page
    assert "/runs?q[]=tag:pmm/cycle=OPEN&amp;q[]=tag:pmm/member=FRA" in page
    outstanding = page.split('id="regions"')[1].split("</table>")[0]
    assert "FRA" not in outstanding.split("Europe")[1].split("</tr>")[0]  # FRA has an accepted version


def test_a_refusal_at_the_door_is_explained_in_the_accounts_language(portal):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    ncp = make_account("ncp", "SEN", lang="es")
    client = _signed_in(ncp)
    response = client.post(
        f"/cycles/{OPEN_CYCLE}/members/SEN/upload/", {"file": SimpleUploadedFile("SEN.exe", b"MZ\x90")}, follow=True
    )
    page = response.content.decode()
    assert "rechazado" in page and "unsupported_file_type" in page
    assert "No es un tipo de archivo que la plataforma acepte" in page


def test_the_verdict_page_gives_details_and_advice_in_the_readers_language_for_the_format_sent(portal):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    ncp = make_account("ncp", "SEN", lang="fr")
    client = _signed_in(ncp)
    broken = b'{"format": "pmm-submission",\n "member": "SEN" "cycle": "x"}'
    response = client.post(
        f"/cycles/{OPEN_CYCLE}/members/SEN/upload/", {"file": SimpleUploadedFile("SEN.json", broken)}, follow=True
    )
    page = response.content.decode()
    assert "not_json" in page
    problems = page.split('id="problems"')[1].split("</table>")[0]
    assert "Le fichier n&#x27;est pas du JSON valide à la ligne 2, colonne 18." in problems  # the detail, in French
    assert "corrigez la syntaxe à cet endroit" in problems and "Excel" not in problems  # advice for JSON
    assert "Expecting" not in problems  # the JSON reader's English message is not shown to the member


def test_a_member_reads_its_published_profile_and_no_other(portal):  # noqa: F811
    """After publication the NCP reads its profile (sandboxed); another member's is 404; an altered one is not shown."""
    published = portal.layout.published_dir("2025")  # a cycle of its own: a folder is published whole
    publish_profiles(published, ["SEN", "FRA"], title="profile of {member}")
    sen = _signed_in(make_account("ncp", member="SEN"))
    page = sen.get("/cycles/2025/members/SEN/profile/")
    assert page.status_code == 200 and b"profile of SEN" in page.content
    assert "sandbox" in page["Content-Security-Policy"]
    assert sen.get("/cycles/2025/members/FRA/profile/").status_code == 404
    # A profile altered after publication no longer reads back as its manifest says: not shown.
    (published / "profiles" / "SEN" / "profile_en.html").write_text("<html><body>forged</body></html>")
    assert sen.get("/cycles/2025/members/SEN/profile/").status_code == 404


@pytest.mark.cycle
def test_completeness_counts_files_copied_into_landing_once_a_run_took_them_in(portal):  # noqa: F811
    """The Secretariat's completeness is the pipeline's record: a file the Secretariat copied into landing counts
    as soon as a run has taken it in, like one sent through the platform."""
    from pmm_pipeline.portal import intake
    from pmm_pipeline_tests.stages.delivery.intake_cases import run_intake

    assert "MEX" not in intake.accepted_members(portal, OPEN_CYCLE)
    landing = portal.layout.landing_dir(OPEN_CYCLE)
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "MEX_by_hand.json").write_bytes(json_submission("MEX"))
    assert "MEX" not in intake.accepted_members(portal, OPEN_CYCLE)  # not on record before a run read it
    run_intake(portal, OPEN_CYCLE)
    assert "MEX" in intake.accepted_members(portal, OPEN_CYCLE)
    page = _signed_in(make_account("secretariat")).get(f"/secretariat/?cycle={OPEN_CYCLE}")
    assert page.status_code == 200
    mexico_outstanding = b"MEX" in page.content.split(b"Outstanding")[-1].split(b"</table>")[0]
    assert not mexico_outstanding, "a member with an accepted version on record is not outstanding"
