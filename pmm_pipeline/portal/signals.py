"""Sign-ins and failed attempts into the audit trail (the login tried, never the password)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from pmm_pipeline.portal import audit
from pmm_pipeline.portal.throttle import recorded_login


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
    audit.record("sign_in_failed", login=recorded_login(credentials.get("username")), request=request)
