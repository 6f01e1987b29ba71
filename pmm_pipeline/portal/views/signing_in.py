"""Signing in and out, choosing the language, and the platform's stylesheet: the pages anyone may reach."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from pmm_pipeline.portal import access, audit


class SignInView(auth_views.LoginView):
    template_name = "portal/sign_in.html"
    redirect_authenticated_user = True


@require_POST
def sign_out(request):
    return auth_views.LogoutView.as_view(next_page="portal:sign_in")(request)


@require_POST
def set_language(request):
    lang = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = "/"
    response = HttpResponseRedirect(target)
    if lang in dict(settings.LANGUAGES):
        if access.role_of(request.user) is not None:
            profile = request.user.pmm
            profile.lang = lang
            profile.save(update_fields=["lang"])
            audit.record("language_change", login=request.user.username, request=request, lang=lang)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            lang,
            samesite="Lax",
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=True,
            max_age=365 * 24 * 3600,
        )
    return response


@require_GET
def stylesheet(request):
    path = settings.PORTAL_STATIC / "portal.css"
    return HttpResponse(path.read_bytes(), content_type="text/css; charset=utf-8")
