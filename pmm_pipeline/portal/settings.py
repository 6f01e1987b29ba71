"""Django's settings for the member platform, built in code from pmm's Settings (no DJANGO_SETTINGS_MODULE file).

`configure()` is called once per process, by `pmm portal`, `pmm accounts`, the WSGI entry point and tests; it
also applies the committed migrations, so a newcomer has no separate step.
"""

import datetime as dt
import threading
from pathlib import Path
from typing import Any

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.portal.config import PortalSettings, database_config, secret_key

PORTAL_DIR = Path(__file__).resolve().parent
SIGN_IN_FAILURES_BEFORE_LOCK = 5
SIGN_IN_LOCK = dt.timedelta(minutes=15)
# The multipart envelope around a file (boundaries, headers, the CSRF field): a body may exceed the file limit by
# this much before it is refused on its Content-Length alone; the file itself is bounded exactly while streaming.
MULTIPART_SLACK_BYTES = 64 * 1024

_lock = threading.Lock()
_configured: dict[str, Any] = {}


def django_settings(settings: Settings, portal: PortalSettings) -> dict[str, Any]:
    from csp.constants import NONE, SELF

    secure = portal.secure_cookies
    return {
        "DEBUG": False,
        "SECRET_KEY": secret_key(portal),
        "ALLOWED_HOSTS": [*portal.allowed_hosts, "testserver"] if not secure else list(portal.allowed_hosts),
        "ROOT_URLCONF": "pmm_pipeline.portal.urls",
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "axes",
            "pmm_pipeline.portal.apps.PortalConfig",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "csp.middleware.CSPMiddleware",
            "pmm_pipeline.portal.middleware.BodyLimitMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "pmm_pipeline.portal.middleware.AccountLanguageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "pmm_pipeline.portal.middleware.NoStoreMiddleware",
            # Last, as django-axes requires: it answers a locked-out sign-in before the view runs.
            "axes.middleware.AxesMiddleware",
        ],
        "AUTHENTICATION_BACKENDS": [
            "axes.backends.AxesStandaloneBackend",
            "django.contrib.auth.backends.ModelBackend",
        ],
        # argon2id first (maintained, memory-hard); the others only read hashes made elsewhere.
        "PASSWORD_HASHERS": [
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ],
        "AUTH_PASSWORD_VALIDATORS": [
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
        ],
        "DATABASES": {"default": database_config(portal.database_url, portal.data_dir)},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "autoescape": True,
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                        "pmm_pipeline.portal.views.common.common_context",
                    ],
                },
            }
        ],
        "USE_I18N": True,
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "LANGUAGE_CODE": "en",
        "LANGUAGES": [("en", "English"), ("fr", "Français"), ("es", "Español")],
        "LOCALE_PATHS": [str(PORTAL_DIR / "locale")],
        "LOGIN_URL": "portal:sign_in",
        "LOGIN_REDIRECT_URL": "portal:home",
        "SESSION_COOKIE_AGE": portal.session_seconds,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "CSRF_COOKIE_SECURE": secure,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "LANGUAGE_COOKIE_SECURE": secure,
        "LANGUAGE_COOKIE_SAMESITE": "Lax",
        "LANGUAGE_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "SECURE_HSTS_SECONDS": 31536000 if secure else 0,
        # Behind the TLS reverse proxy of production, which sets X-Forwarded-Proto.
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if secure else None,
        "X_FRAME_OPTIONS": "DENY",
        # Files stream to a temporary file past 2.5 MB; the upload handler bounds them at PMM_MAX_FILE_BYTES.
        "FILE_UPLOAD_HANDLERS": ["pmm_pipeline.portal.uploads.BoundedUploadHandler"],
        "DATA_UPLOAD_MAX_MEMORY_SIZE": 256 * 1024,  # form fields other than files
        "DATA_UPLOAD_MAX_NUMBER_FIELDS": 500,
        "DATA_UPLOAD_MAX_NUMBER_FILES": 1,
        "PMM_SETTINGS": settings,
        "PORTAL_STATIC": PORTAL_DIR / "static" / "portal",
        "CSRF_FAILURE_VIEW": "pmm_pipeline.portal.views.errors.csrf_failure",
        "MESSAGE_STORAGE": "django.contrib.messages.storage.session.SessionStorage",
        "PMM_PORTAL": portal,
        "PMM_BODY_LIMIT": settings.intake_limits.max_file_bytes + MULTIPART_SLACK_BYTES,
        # No inline script or style anywhere: one stylesheet and one script file from the platform itself.
        "CONTENT_SECURITY_POLICY": {
            "DIRECTIVES": {
                "default-src": [NONE],
                "script-src": [SELF],
                "style-src": [SELF],
                "img-src": [SELF],
                "form-action": [SELF],
                "frame-ancestors": [NONE],
                "base-uri": [NONE],
                "connect-src": [SELF],
            }
        },
        "AXES_FAILURE_LIMIT": SIGN_IN_FAILURES_BEFORE_LOCK,
        "AXES_COOLOFF_TIME": SIGN_IN_LOCK,
        # A wrong password for one login from one address: another person's guessing does not lock a colleague out
        # from their own office, and one address cannot try many logins either.
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
        "AXES_RESET_ON_SUCCESS": True,
        # The connection's own address only: a forwarded-for header is the client's to write, and a new one per
        # attempt would make each guess look like it came from somewhere else.
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
        "AXES_LOCKOUT_TEMPLATE": "portal/locked_out.html",
        "AXES_VERBOSE": False,
        "AXES_USERNAME_CALLABLE": "pmm_pipeline.portal.throttle.axes_username",
        # Masked in the attempts axes keeps: the login too, since a password is sometimes typed into its field.
        "AXES_SENSITIVE_PARAMETERS": ["password", "token", "username", "csrfmiddlewaretoken"],
        "LOGGING_CONFIG": None,
        "LOGGING": {},
    }


def configure(settings: Settings | None = None, portal: PortalSettings | None = None, migrate: bool = True) -> None:
    """Configure Django for this process once, then bring the platform's database to the committed migrations."""
    import django
    from django.conf import settings as django_conf

    with _lock:
        if _configured:
            return
        settings = settings or Settings.from_env()
        portal = portal or PortalSettings.from_env(settings)
        portal.data_dir.mkdir(parents=True, exist_ok=True)
        if not django_conf.configured:
            django_conf.configure(**django_settings(settings, portal))
        django.setup()
        if migrate:
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
        _configured["settings"] = settings
        _configured["portal"] = portal
