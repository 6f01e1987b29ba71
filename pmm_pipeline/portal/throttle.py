"""The login as sign-in records keep it (axes' attempts, the audit trail): as typed only when it names an account.

People type their password into the login field; a login that names no account is kept as a short hash instead, so
throttling still counts its attempts and no record, log or page ever holds what was typed.
"""

import hashlib

from django.contrib.auth import get_user_model

MAX_LOGIN = 150


def recorded_login(typed: object) -> str:
    text = str(typed or "")[:MAX_LOGIN]
    if text and get_user_model().objects.filter(username=text).exists():
        return text
    return "(unknown login " + hashlib.sha256(text.encode()).hexdigest()[:8] + ")"


def axes_username(request, credentials) -> str:
    """AXES_USERNAME_CALLABLE: the login of the attempt from the credentials, else from the form."""
    typed = (credentials or {}).get("username")
    if typed is None and request is not None:
        typed = request.POST.get("username")
    return recorded_login(typed)
