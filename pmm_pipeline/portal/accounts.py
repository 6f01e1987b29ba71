"""Account management shared by `pmm accounts` and the Secretariat's pages: add, disable, assign, tokens, list.

Each function checks its input and raises AccountError with one line saying what is wrong; each change is audited.
"""

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.portal import audit
from pmm_pipeline.portal.errors import AccountError
from pmm_pipeline.portal.models import ROLES, ApiToken, Assignment, Profile

LOGIN_PATTERN = r"^[A-Za-z0-9._@+-]{2,150}$"
TOKEN_PREFIX = "pmm_"


def _users():
    return get_user_model().objects


def check_login(login: str) -> str:
    import re

    login = (login or "").strip()
    if not re.fullmatch(LOGIN_PATTERN, login):
        raise AccountError(f"login {login!r} must be 2 to 150 letters, digits or . _ @ + -")
    return login


def get_account(login: str):
    try:
        return _users().select_related("pmm").get(username=check_login(login))
    except get_user_model().DoesNotExist:
        raise AccountError(f"no account with login {login!r} (see `pmm accounts list`)") from None


def add_account(
    login: str,
    role: str,
    *,
    member: str | None,
    lang: str,
    password: str | None,
    known_members: set[str],
    by: str = "",
    request=None,
):
    """Create an account; an NCP is bound to one known member. Without a password it cannot sign in (tokens only)."""
    login = check_login(login)
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    member = (member or "").strip().upper()
    if role == "ncp":
        if not member:
            raise AccountError("an ncp account needs --member, the member it works for")
        if member not in known_members:
            raise AccountError(f"member {member!r} is not in the members reference (see `pmm list members`)")
    elif member:
        raise AccountError(f"a {role} account is bound to no member: leave --member out (assign reviewers instead)")
    if lang not in LANGUAGES:
        raise AccountError(f"language {lang!r} is not one of en, fr, es")
    if password is not None:
        try:
            validate_password(password)
        except ValidationError as err:
            raise AccountError("password refused: " + " ".join(str(m) for m in err.messages)) from None
    try:
        with transaction.atomic():
            user = _users().create_user(username=login, password=password)
            if password is None:
                user.set_unusable_password()
                user.save()
            Profile.objects.create(user=user, role=role, member=member, lang=lang)
    except IntegrityError:
        raise AccountError(f"an account with login {login!r} exists already") from None
    audit.record("account_add", login=by or "pmm accounts", request=request, member=member, account=login, role=role)
    return user


def set_password(login: str, password: str) -> None:
    user = get_account(login)
    try:
        validate_password(password, user)
    except ValidationError as err:
        raise AccountError("password refused: " + " ".join(str(m) for m in err.messages)) from None
    user.set_password(password)
    user.save()


def disable_account(login: str, *, by: str = "", request=None) -> None:
    """The account can no longer sign in, its sessions stop working and its tokens answer 401."""
    user = get_account(login)
    user.is_active = False
    user.save()
    ApiToken.objects.filter(user=user).update(revoked=True)
    audit.record("account_disable", login=by or "pmm accounts", request=request, account=user.username)


def assign_reviewer(login: str, member: str, *, known_members: set[str], by: str = "", request=None) -> None:
    user = get_account(login)
    if user.pmm.role != "reviewer":
        raise AccountError(f"{login!r} is a {user.pmm.role} account: only reviewers are assigned to members")
    member = (member or "").strip().upper()
    if member not in known_members:
        raise AccountError(f"member {member!r} is not in the members reference (see `pmm list members`)")
    Assignment.objects.get_or_create(reviewer=user, member=member)
    audit.record("account_assign", login=by or "pmm accounts", request=request, member=member, account=user.username)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(login: str, *, by: str = "") -> str:
    """A new API token for the account: returned once, kept only as its SHA-256."""
    user = get_account(login)
    if not user.is_active:
        raise AccountError(f"account {login!r} is disabled")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, digest=digest(token), prefix=token[:8])
    audit.record("token_issued", login=by or "pmm accounts", account=user.username)
    return token


def user_for_token(token: str):
    """The active account a token belongs to, or None (unknown, revoked, disabled)."""
    if not token or len(token) > 200:
        return None
    found = ApiToken.objects.select_related("user", "user__pmm").filter(digest=digest(token), revoked=False).first()
    if found is None or not found.user.is_active:
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.user


def list_accounts() -> list[dict]:
    rows = []
    for user in _users().select_related("pmm").order_by("username"):
        profile = getattr(user, "pmm", None)
        rows.append(
            {
                "login": user.username,
                "role": profile.role if profile else "",
                "member": profile.member if profile else "",
                "lang": profile.lang if profile else "",
                "active": user.is_active,
                "assigned": sorted(user.assignments.values_list("member", flat=True)),
                "last_sign_in": user.last_login.isoformat() if user.last_login else None,
            }
        )
    return rows
