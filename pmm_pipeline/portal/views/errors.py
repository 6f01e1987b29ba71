"""The error pages (404, 403, an expired form), in the platform's layout and the reader's language."""

from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _


def not_found(request, exception=None):
    return render(request, "portal/error.html", {"code": 404, "text": _("Nothing here.")}, status=404)


def forbidden(request, exception=None):
    return render(request, "portal/error.html", {"code": 403, "text": _("Your account may not do this.")}, status=403)


def csrf_failure(request, reason=""):
    with translation.override(getattr(request, "LANGUAGE_CODE", "en")):
        return render(
            request,
            "portal/error.html",
            {"code": 403, "text": _("The form expired: go back, reload the page and send it again.")},
            status=403,
        )
