"""Request-wide rules: bodies refused on their declared size, the account's language, pages not cached."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import translation

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.portal.access import role_of
from pmm_pipeline.portal.uploads import FileTooLarge


def too_large(request) -> HttpResponse:
    limit = settings.PMM_SETTINGS.intake_limits.max_file_bytes
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "file_too_large", "max_file_bytes": limit}, status=413)
    with translation.override(getattr(request, "LANGUAGE_CODE", None) or "en"):
        text = translation.gettext("The file is larger than the limit of %(limit)s bytes.") % {"limit": limit}
    return HttpResponse(text, status=413, content_type="text/plain; charset=utf-8")


class BodyLimitMiddleware:
    """413 before reading a body whose Content-Length is over the limit; the stream itself is bounded in uploads.py."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        multipart = request.content_type == "multipart/form-data"
        # A multipart body carries the file in an envelope (boundaries, headers, the CSRF field): it may pass the
        # file limit by that slack; any other body is bounded by the file limit itself.
        if length > (settings.PMM_BODY_LIMIT if multipart else settings.PMM_SETTINGS.intake_limits.max_file_bytes):
            return too_large(request)
        if request.method == "POST" and multipart:
            # Parsed here, before the CSRF check reads the form, so that a file that outgrows the limit while it
            # streams (whatever its Content-Length claimed) is answered 413 wherever it was sent.
            try:
                request.FILES  # noqa: B018 - parsing is the point
            except FileTooLarge:
                return too_large(request)
        return self.get_response(request)


class AccountLanguageMiddleware:
    """Pages in the account's language; before sign-in, the language chosen on the page or the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        lang = None
        if role_of(request.user) is not None:
            lang = request.user.pmm.lang
        lang = lang or translation.get_language_from_request(request)
        if lang not in LANGUAGES:
            lang = "en"
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", lang)
        translation.deactivate()
        return response


class NoStoreMiddleware:
    """Members' data never stays in a shared browser's or proxy's cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response
