"""Sign-ins and failed attempts into the audit trail (the login tried, never the password)."""

import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from pmm_pipeline.portal import audit

MAX_LOGIN_SHOWN = 150


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    audit.record("sign_in", login=user.username, request=request)


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record("sign_out", login=user.username, request=request)


@receiver(user_login_failed)
def _failed(sender, credentials, request=None, **kwargs):
    # `credentials` holds the password too (Django masks it, but it is never kept here at all).
    # A login that names no account is not kept as typed: people type their password into the login field.
    tried = str(credentials.get("username") or "")[:MAX_LOGIN_SHOWN]
    if not get_user_model().objects.filter(username=tried).exists():
        tried = "(unknown login " + hashlib.sha256(tried.encode()).hexdigest()[:8] + ")"
    audit.record("sign_in_failed", login=tried, request=request)
