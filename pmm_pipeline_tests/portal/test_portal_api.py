"""The platform's API as the contract words it, and the security it must show (CSRF, CSP, escaping, limits, secrets).

The intake's own verdicts are trusted here (tested with the intake); what is tested is what the platform adds: who
may send, the status codes, the records of who sent what, and that nothing typed or secret leaks into a page.
"""

import datetime as dt
import json
import os
import re
import stat

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from benchmarks.platform_inputs import multipart
from pmm_pipeline_tests.paths import CHECKOUT
from pmm_pipeline_tests.portal_fixtures import (  # noqa: F401
    CLOSED_CYCLE,
    OPEN_CYCLE,
    PASSWORD,
    json_submission,
    live_server,
    make_account,
    portal,
)

VERDICT_KEYS = {"status", "member", "cycle", "version", "sha256", "reason_code", "problems", "findings"}
TEMPLATES = CHECKOUT / "pmm_pipeline" / "portal" / "templates"


@pytest.fixture()
def ncp(portal):  # noqa: F811
    from pmm_pipeline.portal import accounts

    user = make_account("ncp", "BRA")
    return user, accounts.issue_token(user.username)


def _post(client, token, name, data, cycle=OPEN_CYCLE):
    return client.post(
        f"/api/v1/cycles/{cycle}/submissions",
        {"file": SimpleUploadedFile(name, data)},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_submission_answers_201_with_the_verdict_and_versions_newest_first(ncp):
    from django.test import Client

    user, token = ncp
    client = Client()
    first = _post(client, token, "BRA.json", json_submission("BRA", value=1000))
    second = _post(client, token, "BRA.json", json_submission("BRA", value=2000))
    assert first.status_code == second.status_code == 201
    for response in (first, second):
        verdict = response.json()
        assert VERDICT_KEYS <= set(verdict)
        assert verdict["status"] == "accepted" and verdict["member"] == "BRA" and verdict["cycle"] == OPEN_CYCLE
        assert verdict["reason_code"] is None and verdict["problems"] == []
        assert re.fullmatch(r"[0-9a-f]{64}", verdict["sha256"])
    assert second.json()["version"] == first.json()["version"] + 1
    listed = client.get(f"/api/v1/cycles/{OPEN_CYCLE}/members/BRA/submissions", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert listed.status_code == 200
    versions = listed.json()
    assert [v["sha256"] for v in versions[:2]] == [second.json()["sha256"], first.json()["sha256"]]
    assert versions[0]["sent_by"] == user.username


def test_a_file_for_another_member_is_rejected_wrong_member(ncp):
    from django.test import Client

    _, token = ncp
    response = _post(Client(), token, "KEN.json", json_submission("KEN"))
    assert response.status_code == 201
    verdict = response.json()
    assert verdict["status"] == "rejected" and verdict["reason_code"] == "wrong_member"
    assert verdict["version"] is None and verdict["member"] == "BRA"


def test_a_closed_cycle_answers_409_and_is_recorded(ncp):
    from django.test import Client

    from pmm_pipeline.portal.models import AuditEvent, Upload

    user, token = ncp
    response = _post(Client(), token, "BRA.json", json_submission("BRA", cycle=CLOSED_CYCLE), cycle=CLOSED_CYCLE)
    assert response.status_code == 409
    assert response.json()["reason_code"] == "cycle_closed"
    row = Upload.objects.filter(login=user.username, cycle=CLOSED_CYCLE).get()
    assert row.status == "rejected" and row.reason_code == "cycle_closed"
    assert AuditEvent.objects.filter(login=user.username, action="upload", cycle=CLOSED_CYCLE).count() == 1


def test_an_unknown_cycle_answers_404(ncp):
    from django.test import Client

    _, token = ncp
    assert _post(Client(), token, "BRA.json", json_submission("BRA", cycle="1999"), cycle="1999").status_code == 404
    listed = Client().get("/api/v1/cycles/1999/members/BRA/submissions", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert listed.status_code == 404


def test_a_body_over_the_limit_answers_413_on_its_length(ncp, portal):  # noqa: F811
    from django.test import Client

    _, token = ncp
    limit = portal.intake_limits.max_file_bytes
    response = _post(Client(), token, "BRA.json", b" " * (limit + 70 * 1024))
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"


def test_any_other_body_over_the_limit_answers_413(ncp, portal):  # noqa: F811
    from django.test import Client

    _, token = ncp
    body = b"{" + b" " * portal.intake_limits.max_file_bytes + b"}"
    response = Client().post(
        f"/api/v1/cycles/{OPEN_CYCLE}/submissions",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 413


def test_a_file_over_the_limit_answers_413_while_streaming(ncp, portal, live_server):  # noqa: F811
    """A body within the envelope's slack whose file is over the limit: bounded as it streams, sent chunked."""
    import http.client
    from urllib.parse import urlsplit

    _, token = ncp
    body, content_type = multipart("BRA.json", b" " * (portal.intake_limits.max_file_bytes + 10))
    where = urlsplit(live_server)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    connection.request(
        "POST",
        f"/api/v1/cycles/{OPEN_CYCLE}/submissions",
        body=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


@pytest.mark.parametrize(
    "name, data",
    [
        ("BRA.exe", b"MZ\x90\x00"),
        ("BRA.html", b"<html></html>"),
        ("BRA.xlsx", b"not a workbook at all"),
        ("BRA.json", b"%PDF-1.7 ..."),
        ("BRA.csv", b"PK\x03\x04zipped"),
    ],
)
def test_a_file_of_a_kind_not_taken_is_refused_415_and_recorded(ncp, name, data):
    from django.test import Client

    from pmm_pipeline.portal.models import Upload

    user, token = ncp
    response = _post(Client(), token, name, data)
    assert response.status_code == 415
    assert response.json()["reason_code"] == "unsupported_file_type"
    assert Upload.objects.filter(login=user.username, file_name=name, status="refused").count() == 1


def test_browser_forms_need_the_csrf_token(portal):  # noqa: F811
    from django.test import Client

    user = make_account("ncp", "JPN")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/sign-in/", {"username": user.username, "password": PASSWORD}).status_code == 403
    page = client.get("/sign-in/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    signed = client.post("/sign-in/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert signed.status_code == 302
    upload = client.post(
        f"/cycles/{OPEN_CYCLE}/members/JPN/upload/", {"file": SimpleUploadedFile("JPN.json", json_submission("JPN"))}
    )
    assert upload.status_code == 403


def test_every_page_has_the_content_security_policy_and_no_inline_code(portal):  # noqa: F811
    from django.test import Client

    user = make_account("secretariat")
    client = Client()
    client.post("/sign-in/", {"username": user.username, "password": PASSWORD})
    for url in ("/sign-in/", "/secretariat/", "/secretariat/accounts/", "/secretariat/audit/", "/nowhere/"):
        response = client.get(url, follow=True)
        policy = response["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"
        assert b"<script" not in response.content and b"style=" not in response.content


def test_no_template_marks_anything_safe():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert "|safe" not in text and "autoescape off" not in text and "mark_safe" not in text, path


def test_what_a_member_typed_is_never_markup(portal):  # noqa: F811
    from django.test import Client

    from pmm_pipeline.portal import receiving

    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ncp = make_account("ncp", "FRA")
    reviewer = make_account("reviewer", assigned=("FRA",))
    receiving.receive(None, ncp, OPEN_CYCLE, f"FRA{payload}.json", json_submission("FRA"), channel="api")
    note_client = Client()
    note_client.post("/sign-in/", {"username": reviewer.username, "password": PASSWORD})
    note_client.post(f"/cycles/{OPEN_CYCLE}/members/FRA/notes/", {"answer": "declarations_total|2025", "text": payload})
    client = Client()
    client.post("/sign-in/", {"username": ncp.username, "password": PASSWORD})
    page = client.get(f"/cycles/{OPEN_CYCLE}/members/FRA/").content.decode()
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_sign_in_is_throttled_and_every_attempt_audited(portal):  # noqa: F811
    from django.test import Client

    from pmm_pipeline.portal.models import AuditEvent

    user = make_account("ncp", "KEN")
    client = Client()
    statuses = [
        client.post("/sign-in/", {"username": user.username, "password": "wrong"}).status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    locked = client.post("/sign-in/", {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(login=user.username, action="sign_in_failed").count() >= 5
    assert not AuditEvent.objects.filter(login=user.username, action="sign_in").exists()


def test_a_forged_forwarded_for_header_does_not_get_round_the_lock(portal):  # noqa: F811
    from django.test import Client

    user = make_account("ncp", "KEN")
    client = Client()
    statuses = [
        client.post(
            "/sign-in/", {"username": user.username, "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
        ).status_code
        for i in range(6)
    ]
    assert statuses[-2:] == [429, 429]


def test_a_session_ends_when_it_expires(portal):  # noqa: F811
    from django.contrib.sessions.models import Session
    from django.test import Client

    user = make_account("ncp", "KEN")
    client = Client()
    client.post("/sign-in/", {"username": user.username, "password": PASSWORD})
    assert client.get("/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


def test_passwords_and_tokens_are_never_in_a_page_an_event_a_record_or_a_log(portal, caplog):  # noqa: F811
    import logging

    from django.db import connection
    from django.test import Client

    from pmm_pipeline.portal import accounts, receiving

    secret_password = "Zebra-Quartz-Lantern-9931"
    caplog.set_level(logging.DEBUG)
    user = make_account("ncp", "SEN", password=secret_password)
    assert user.password.startswith("argon2$argon2id$")  # kept as an argon2id hash
    token = accounts.issue_token(user.username)
    pages = []
    client = Client()
    pages.append(client.post("/sign-in/", {"username": user.username, "password": "nearly " + secret_password}))
    # the password typed into the login field, as people do
    pages.append(client.post("/sign-in/", {"username": secret_password, "password": secret_password}))
    pages.append(client.post("/sign-in/", {"username": user.username, "password": secret_password}, follow=True))
    pages.append(client.get(f"/cycles/{OPEN_CYCLE}/members/SEN/"))
    pages.append(
        Client().post(
            f"/api/v1/cycles/{OPEN_CYCLE}/submissions",
            {"file": SimpleUploadedFile("SEN.json", json_submission("SEN"))},
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
    )
    receiving.receive(None, user, OPEN_CYCLE, "SEN.json", json_submission("SEN", value=5), channel="api")
    dumped = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # table names from the schema itself, no value in them
            dumped.append(repr(cursor.fetchall()))
    everything = "\n".join([*(p.content.decode(errors="replace") for p in pages), *dumped, caplog.text])
    for secret in (secret_password, token, token[len("pmm_") :]):
        assert secret not in everything
    assert accounts.digest(token) in everything  # the hash is what is kept


def test_audit_for_names_who_sent_a_file_when_and_from_where(portal):  # noqa: F811
    from django.test import Client

    from pmm_pipeline.portal import accounts
    from pmm_pipeline.portal.audit import audit_for

    user = make_account("ncp", "JPN")
    token = accounts.issue_token(user.username)
    response = Client(REMOTE_ADDR="198.51.100.7").post(
        f"/api/v1/cycles/{OPEN_CYCLE}/submissions",
        {"file": SimpleUploadedFile("JPN.json", json_submission("JPN", value=777))},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    sha = response.json()["sha256"]
    rows = audit_for("JPN", OPEN_CYCLE, sha)
    received = [r for r in rows if r["what"] == "received"]
    assert len(received) == 1
    assert received[0]["login"] == user.username and received[0]["ip"] == "198.51.100.7"
    assert received[0]["channel"] == "api" and received[0]["file_name"] == "JPN.json"
    assert any(r["what"] == "upload" for r in rows)
    assert audit_for("KEN", OPEN_CYCLE, sha) == []


def test_cookies_are_secure_outside_the_embedded_default(tmp_path):
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.portal.config import PortalSettings
    from pmm_pipeline.portal.settings import django_settings

    settings = Settings.from_env({"PMM_DATA_DIR": str(tmp_path)})
    embedded = django_settings(settings, PortalSettings.from_env(settings, {}))
    prod = django_settings(
        settings,
        PortalSettings.from_env(
            settings,
            {
                "PMM_PORTAL_SECURE_COOKIES": "1",
                "PMM_PORTAL_SECRET_KEY": "k" * 60,
                "PMM_PORTAL_DATABASE_URL": "postgresql://pmm:p%40ss@db:5432/portal",
                "PMM_PORTAL_ALLOWED_HOSTS": "pmm.example.org",
            },
        ),
    )
    assert not embedded["SESSION_COOKIE_SECURE"] and prod["SESSION_COOKIE_SECURE"] and prod["CSRF_COOKIE_SECURE"]
    for config in (embedded, prod):
        assert config["SESSION_COOKIE_HTTPONLY"] and config["SESSION_COOKIE_SAMESITE"] == "Lax"
        assert config["PASSWORD_HASHERS"][0].endswith("Argon2PasswordHasher")
    assert prod["SECRET_KEY"] == "k" * 60 and prod["ALLOWED_HOSTS"] == ["pmm.example.org"]
    database = prod["DATABASES"]["default"]
    assert database["ENGINE"].endswith("postgresql") and database["PASSWORD"] == "p@ss" and database["HOST"] == "db"
    key_file = tmp_path / "portal_secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert django_settings(settings, PortalSettings.from_env(settings, {}))["SECRET_KEY"] == embedded["SECRET_KEY"]


@pytest.mark.parametrize(
    "env",
    [
        {"PMM_PORTAL_DATABASE_URL": "mysql://x"},
        {"PMM_PORTAL_SECURE_COOKIES": "maybe"},
        {"PMM_PORTAL_SESSION_SECONDS": "5"},
        {"PMM_PORTAL_ALLOWED_HOSTS": "a b"},
    ],
)
def test_a_portal_setting_that_cannot_be_used_is_refused(tmp_path, env):
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.portal.config import PortalSettings

    with pytest.raises(ValueError, match="PMM_PORTAL_"):
        PortalSettings.from_env(Settings.from_env({"PMM_DATA_DIR": str(tmp_path)}), env)


def test_versions_list_is_json_for_the_secretariat_too(portal):  # noqa: F811
    from django.test import Client

    from pmm_pipeline.portal import accounts

    secretariat = make_account("secretariat")
    token = accounts.issue_token(secretariat.username)
    response = Client().get(
        f"/api/v1/cycles/{OPEN_CYCLE}/members/KEN/submissions", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200 and isinstance(json.loads(response.content), list)


def test_a_call_the_pipeline_refuses_answers_400_and_is_audited(ncp, monkeypatch):
    from django.test import Client

    from pmm_pipeline.portal import intake
    from pmm_pipeline.portal.models import AuditEvent

    def refuse(*args, **kwargs):
        raise intake.UploadRefused("unknown member 'BRA'")

    user, token = ncp
    monkeypatch.setattr(intake, "deliver", refuse)
    response = _post(Client(), token, "BRA.json", json_submission("BRA"))
    assert response.status_code == 400 and response.json()["error"] == "refused"
    assert AuditEvent.objects.filter(login=user.username, action="upload_refused").count() == 1
