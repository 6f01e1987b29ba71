"""Every route of the platform. Each one has a rule per role in pmm_pipeline_tests/portal/test_portal_routes.py."""

from django.urls import include, path, register_converter

from pmm_pipeline.portal import api
from pmm_pipeline.portal.views import home, member, secretariat, signing_in


class MemberCode:
    regex = "[A-Z]{3}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class CycleId:
    regex = "[A-Za-z0-9_-]{1,32}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(MemberCode, "member")
register_converter(CycleId, "cycle")

routes = [
    path("", home.home, name="home"),
    path("sign-in/", signing_in.SignInView.as_view(), name="sign_in"),
    path("sign-out/", signing_in.sign_out, name="sign_out"),
    path("language/", signing_in.set_language, name="language"),
    path("static/portal.css", signing_in.stylesheet, name="stylesheet"),
    path("cycles/<cycle:cycle>/members/<member:member>/", member.member_cycle, name="member_cycle"),
    path("cycles/<cycle:cycle>/members/<member:member>/questionnaire.xlsx", member.questionnaire, name="questionnaire"),
    path("cycles/<cycle:cycle>/members/<member:member>/upload/", member.upload, name="upload"),
    path("cycles/<cycle:cycle>/members/<member:member>/profile/", member.profile, name="profile"),
    path(
        "cycles/<cycle:cycle>/members/<member:member>/uploads/<int:upload_id>/",
        member.upload_verdict,
        name="upload_verdict",
    ),
    path("cycles/<cycle:cycle>/members/<member:member>/disclosure/", member.disclosure, name="disclosure"),
    path("cycles/<cycle:cycle>/members/<member:member>/notes/", member.add_note, name="add_note"),
    path("secretariat/", secretariat.secretariat, name="secretariat"),
    path("secretariat/accounts/", secretariat.secretariat_accounts, name="secretariat_accounts"),
    path("secretariat/accounts/<str:login>/disable/", secretariat.secretariat_disable, name="secretariat_disable"),
    path("secretariat/accounts/<str:login>/assign/", secretariat.secretariat_assign, name="secretariat_assign"),
    path("secretariat/audit/", secretariat.secretariat_audit, name="secretariat_audit"),
    path("api/v1/cycles/<cycle:cycle>/submissions", api.submit, name="api_submit"),
    path("api/v1/cycles/<cycle:cycle>/members/<member:member>/submissions", api.versions, name="api_versions"),
]

# One namespace, "portal", for every route (the tests list them from here).
urlpatterns = [path("", include((routes, "portal"), namespace="portal"))]

handler404 = "pmm_pipeline.portal.views.errors.not_found"
handler403 = "pmm_pipeline.portal.views.errors.forbidden"
