"""Who may see and do what: one rule per action, used by every page and API route.

An account that may not read a member's resources gets 404 for them (it learns nothing, not even that they exist);
one that may read them but not act (a reviewer uploading, the Secretariat writing a note) gets 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from pmm_pipeline.portal.models import Assignment

READ, SUBMIT, NOTE = "read", "submit", "note"


def role_of(user) -> str | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    profile = getattr(user, "pmm", None)
    return profile.role if profile is not None else None


def member_of(user) -> str | None:
    profile = getattr(user, "pmm", None)
    return profile.member or None if profile is not None and profile.role == "ncp" else None


def assigned_members(user) -> list[str]:
    return sorted(Assignment.objects.filter(reviewer=user).values_list("member", flat=True))


def can_read(user, member: str) -> bool:
    role = role_of(user)
    if role == "secretariat":
        return True
    if role == "ncp":
        return member_of(user) == member
    if role == "reviewer":
        return Assignment.objects.filter(reviewer=user, member=member).exists()
    return False


def require(user, member: str, action: str = READ) -> None:
    """Raise Http404 when `user` may not read `member`'s resources, PermissionDenied when it may not do `action`."""
    if not can_read(user, member):
        raise Http404()
    role = role_of(user)
    if action == SUBMIT and role != "ncp":
        raise PermissionDenied()
    if action == NOTE and role != "reviewer":
        raise PermissionDenied()


def require_role(user, *roles: str) -> None:
    if role_of(user) not in roles:
        raise PermissionDenied()
