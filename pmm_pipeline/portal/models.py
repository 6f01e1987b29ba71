"""What the platform keeps in its own database (never in the warehouse): accounts' roles, tokens, uploads, notes, audit.

Passwords are Django's (argon2 hashes in auth_user); an account that is disabled is `is_active = False`, which
Django's backends refuse for sign-in and for an existing session alike.
"""

from django.conf import settings
from django.db import models

ROLES = ("ncp", "secretariat", "reviewer")
ROLE_CHOICES = [(r, r) for r in ROLES]
LANGUAGE_CHOICES = [("en", "English"), ("fr", "Français"), ("es", "Español")]


class Profile(models.Model):
    """The PMM side of an account: its role, the member an NCP is bound to, its language."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pmm")
    role = models.CharField(max_length=16, choices=ROLE_CHOICES)
    member = models.CharField(max_length=3, blank=True, default="")  # ncp only: the one member it works for
    lang = models.CharField(max_length=2, choices=LANGUAGE_CHOICES, default="en")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="ncp", member__regex=r"^[A-Z]{3}$") | ~models.Q(role="ncp"),
                name="ncp_has_member",
            )
        ]


class Assignment(models.Model):
    """A peer reviewer assigned to a member that asked for a peer review."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    member = models.CharField(max_length=3)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["reviewer", "member"], name="one_assignment")]


class ApiToken(models.Model):
    """An API token, stored as the SHA-256 of its high-entropy value: the value is shown once and never kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)  # the first characters, to tell tokens apart in a list
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True)
    revoked = models.BooleanField(default=False)


class Upload(models.Model):
    """One file the platform received (or refused at the door) and the verdict it showed, as shown."""

    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    login = models.CharField(max_length=150)
    member = models.CharField(max_length=3)
    cycle = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True)
    channel = models.CharField(max_length=8)  # web, api
    kind = models.CharField(max_length=16, default="file")  # file, disclosure (a choice change sent as a version)
    file_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16)  # accepted, rejected, refused (at the door: type, closed cycle)
    version = models.IntegerField(null=True)
    reason_code = models.CharField(max_length=64, blank=True, default="")
    verdict = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["cycle", "member", "received_at"])]
        ordering = ["-received_at", "-id"]


class Note(models.Model):
    """A peer reviewer's note on one answer (item, year) of a member in a cycle, which the member reads."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    login = models.CharField(max_length=150)
    member = models.CharField(max_length=3)
    cycle = models.CharField(max_length=32)
    item = models.CharField(max_length=64)
    year = models.IntegerField()
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["item", "year", "created_at"]


class AuditEvent(models.Model):
    """Who did what, when, from where. Never a password or a token: `detail` holds only what callers chose."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    login = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=32, db_index=True)
    ip = models.GenericIPAddressField(null=True)
    member = models.CharField(max_length=3, blank=True, default="")
    cycle = models.CharField(max_length=32, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "cycle"])]
