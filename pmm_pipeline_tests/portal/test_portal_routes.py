"""Every route of the platform for every role, on its own member's resources and on another member's.

The routes are listed from the URLconf: a route added without a rule here fails `test_every_route_has_a_rule`.
An NCP sees nothing of another member (404), a reviewer only the members assigned to it, anonymous browsers are sent
to sign in, the API answers 401 without a valid token, and a disabled account is anonymous again at once.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pmm_pipeline_tests.portal_fixtures import (  # noqa: F401
    OPEN_CYCLE,
    PASSWORD,
    json_submission,
    make_account,
    portal,
    publish_profiles,
)

A, B = "KEN", "SEN"
ROLES = ("anonymous", "ncp_A", "ncp_B", "reviewer_A", "reviewer_none", "secretariat", "disabled")
SIGN_IN = "sign-in"


def _member_route(get_ok, post=None):
    """A member resource: who may read it gets `get_ok`, others 404; `post` maps role -> status for POST."""

    def rule(role, target, method):
        if role in ("anonymous", "disabled"):
            return SIGN_IN
        reads = {
            "ncp_A": target == A,
            "ncp_B": target == B,
            "reviewer_A": target == A,
            "reviewer_none": False,
            "secretariat": True,
        }[role]
        if not reads:
            return 404
        if method == "GET":
            return get_ok
        return post.get(role.split("_")[0], 403)

    return rule


def _secretariat_route(ok):
    def rule(role, target, method):
        if role in ("anonymous", "disabled"):
            return SIGN_IN
        return ok if role == "secretariat" else 403

    return rule


def _api_submit(role, target, method):
    return {"ncp_A": 201, "ncp_B": 201, "reviewer_A": 403, "reviewer_none": 403, "secretariat": 403}.get(role, 401)


def _api_versions(role, target, method):
    if role in ("anonymous", "disabled"):
        return 401
    reads = {
        "ncp_A": target == A,
        "ncp_B": target == B,
        "reviewer_A": target == A,
        "reviewer_none": False,
        "secretariat": True,
    }[role]
    return 200 if reads else 404


def _home(role, target, method):
    return {"anonymous": SIGN_IN, "disabled": SIGN_IN, "secretariat": 302}.get(role, 200)


def _public(status):
    return lambda role, target, method: status


# route name -> (methods tried, whether it takes a member, the rule)
RULES = {
    "home": (("GET",), False, _home),
    "sign_in": (("GET",), False, lambda role, target, method: 302 if role not in ("anonymous", "disabled") else 200),
    "sign_out": (("POST",), False, _public(302)),
    "language": (("POST",), False, _public(302)),
    "stylesheet": (("GET",), False, _public(200)),
    "member_cycle": (("GET",), True, _member_route(200)),
    "questionnaire": (("GET",), True, _member_route(200)),
    "upload": (("POST",), True, _member_route(None, {"ncp": 302})),
    "profile": (("GET",), True, _member_route(200)),
    "upload_verdict": (("GET",), True, _member_route(200)),
    "disclosure": (("GET", "POST"), True, _member_route(200, {"ncp": 302})),
    "add_note": (("POST",), True, _member_route(None, {"reviewer": 302})),
    "secretariat": (("GET",), False, _secretariat_route(200)),
    "secretariat_accounts": (("GET",), False, _secretariat_route(200)),
    "secretariat_disable": (("POST",), False, _secretariat_route(302)),
    "secretariat_assign": (("POST",), False, _secretariat_route(302)),
    "secretariat_audit": (("GET",), False, _secretariat_route(200)),
    "api_submit": (("POST",), False, _api_submit),
    "api_versions": (("GET",), True, _api_versions),
}


def _route_names():
    from django.urls import get_resolver

    names = []

    def walk(patterns, namespace):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            else:
                names.append(pattern.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_route_has_a_rule(portal):  # noqa: F811
    names = _route_names()
    assert None not in names, "every route has a name, so that it can have a rule"
    assert sorted(names) == sorted(RULES), "a route without a rule (or a rule without a route)"


@pytest.fixture(scope="module")
def people(portal):  # noqa: F811
    from django.test import Client

    from pmm_pipeline.portal import accounts, receiving

    users = {
        "ncp_A": make_account("ncp", A),
        "ncp_B": make_account("ncp", B),
        "reviewer_A": make_account("reviewer", assigned=(A,)),
        "reviewer_none": make_account("reviewer"),
        "secretariat": make_account("secretariat"),
        "disabled": make_account("ncp", A),
    }
    clients, tokens = {"anonymous": Client()}, {"anonymous": None}
    for role, user in users.items():
        client = Client()
        response = client.post("/sign-in/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, role
        clients[role] = client
        tokens[role] = accounts.issue_token(user.username)
    accounts.disable_account(users["disabled"].username)  # after signing in: its session and token must stop working
    publish_profiles(portal.layout.published_dir(OPEN_CYCLE), (A, B))  # as the publishing stage writes them
    uploads = {}
    for member, role in ((A, "ncp_A"), (B, "ncp_B")):
        outcome = receiving.receive(
            None, users[role], OPEN_CYCLE, f"{member}.json", json_submission(member), channel="api"
        )
        uploads[member] = outcome.upload.pk
    return users, clients, tokens, uploads


def _kwargs(name, target, uploads):
    kwargs = {}
    if name in (
        "member_cycle",
        "questionnaire",
        "upload",
        "upload_verdict",
        "disclosure",
        "add_note",
        "api_versions",
        "profile",
    ):
        kwargs = {"cycle": OPEN_CYCLE, "member": target}
    if name == "upload_verdict":
        kwargs["upload_id"] = uploads[target]
    if name == "api_submit":
        kwargs = {"cycle": OPEN_CYCLE}
    if name in ("secretariat_disable", "secretariat_assign"):
        kwargs = {"login": make_account("reviewer").username}
    return kwargs


def _data(name, target, role):
    if name in ("upload", "api_submit"):
        member = {"ncp_B": B}.get(role, A if name == "api_submit" else target)
        return {"file": SimpleUploadedFile(f"{member}.json", json_submission(member))}
    if name == "disclosure":
        return {"electronic_declaration_rate": "public"}
    if name == "add_note":
        return {"answer": "declarations_total|2025", "text": "Please confirm the total."}
    if name == "language":
        return {"language": "fr", "next": "/"}
    if name == "secretariat_assign":
        return {"member": A}
    return {}


def test_every_route_for_every_role(people):
    from django.test import Client
    from django.urls import reverse

    users, clients, tokens, uploads = people
    wrong = []
    for name, (methods, per_member, rule) in RULES.items():
        for role in ROLES:
            for target in (A, B) if per_member else (A,):
                for method in methods:
                    if name == "sign_out":
                        client = Client()  # signing out must not end the shared sessions
                    else:
                        client = clients[role]
                    url = reverse(f"portal:{name}", kwargs=_kwargs(name, target, uploads))
                    headers = {}
                    if name.startswith("api_") and tokens[role]:
                        headers["HTTP_AUTHORIZATION"] = f"Bearer {tokens[role]}"
                    call = client.get if method == "GET" else client.post
                    response = call(url, _data(name, target, role) if method == "POST" else None, **headers)
                    expected = rule(role, target, method)
                    if expected == SIGN_IN:
                        ok = response.status_code == 302 and response["Location"].startswith("/sign-in/")
                    else:
                        ok = response.status_code == expected
                    if not ok:
                        wrong.append(f"{method} {url} as {role}: {response.status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_api_refuses_a_wrong_token_and_no_bearer(people):
    from django.test import Client

    client = Client()
    for header in ("Bearer pmm_not-a-token", "Basic dXNlcjpwYXNz", "Bearer ", "pmm_x"):
        response = client.get(f"/api/v1/cycles/{OPEN_CYCLE}/members/{A}/submissions", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_another_members_page_says_nothing_of_it(people):
    users, clients, tokens, uploads = people
    response = clients["ncp_A"].get(f"/cycles/{OPEN_CYCLE}/members/{B}/uploads/{uploads[B]}/")
    assert response.status_code == 404
    from pmm_pipeline.portal.models import Upload

    shown = Upload.objects.get(pk=uploads[B])
    for secret in (users["ncp_B"].username, shown.sha256, shown.file_name, "accepted"):
        assert secret.encode() not in response.content
    # the upload id of another member under one's own member is no way round either
    response = clients["ncp_A"].get(f"/cycles/{OPEN_CYCLE}/members/{A}/uploads/{uploads[B]}/")
    assert response.status_code == 404


def test_a_published_profile_is_shown_in_a_sandbox(people):
    users, clients, tokens, uploads = people
    response = clients["ncp_A"].get(f"/cycles/{OPEN_CYCLE}/members/{A}/profile/")
    assert response.status_code == 200 and b"Profile of KEN" in response.content
    assert (
        response["Content-Security-Policy"].startswith("sandbox;")
        and "script-src" not in response["Content-Security-Policy"]
    )
    assert clients["ncp_A"].get(f"/cycles/2025/members/{A}/profile/").status_code == 404  # none published
