"""The API under /api/v1/ (contract, "The member platform"): Bearer tokens, JSON, no session and no CSRF.

A missing, wrong or disabled token answers 401; a member the account may not read answers 404; the file part is
bounded while it streams (413) and goes through the same receiving as the browser's upload.
"""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from pmm_pipeline.portal import access, accounts, intake, receiving
from pmm_pipeline.portal.middleware import too_large
from pmm_pipeline.portal.uploads import FileTooLarge


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def token_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        user = accounts.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None or access.role_of(user) is None:
            response = _error(401, "unauthorized", "send a valid API token: Authorization: Bearer <token>")
            response["WWW-Authenticate"] = 'Bearer realm="pmm"'
            return response
        request.api_user = user
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)


@require_POST
@token_required
def submit(request, cycle):
    from django.conf import settings

    user = request.api_user
    if intake.cycle_of(settings.PMM_SETTINGS, cycle) is None:
        return _error(404, "unknown_cycle", f"no cycle {cycle!r} is configured")
    if access.role_of(user) != "ncp":
        return _error(403, "not_an_ncp", "only an NCP account submits, for its own member")
    try:
        sent = request.FILES.get("file")
    except FileTooLarge:
        return too_large(request)
    if sent is None:
        return _error(400, "no_file", "send the file as the multipart field `file`")
    outcome = receiving.receive(request, user, cycle, sent.name, sent.read(), channel="api")
    return JsonResponse(outcome.verdict, status=outcome.status)


@require_GET
@token_required
def versions(request, cycle, member):
    from django.conf import settings

    if not access.can_read(request.api_user, member):
        return _error(404, "not_found", "no such member resource")
    if intake.cycle_of(settings.PMM_SETTINGS, cycle) is None or not intake.member_known(settings.PMM_SETTINGS, member):
        return _error(404, "not_found", "no such cycle or member")
    # A list, newest first, as the contract words it: each entry is a verdict plus who sent it, when and how.
    return JsonResponse(receiving.history(cycle, member), safe=False)
