"""Django settings for Tremplin: one file, driven by environment variables.

Defaults are safe for production (DEBUG off, secure cookies, HSTS); `make demo` sets DEBUG=1.
Variables: DEBUG, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, TREMPLIN_DATA_DIR, EMAIL_URL-style
settings (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS,
DEFAULT_FROM_EMAIL), Q_TIMEOUT / Q_RETRY (background jobs), SESSION_IDLE_MINUTES,
SESSION_ABSOLUTE_HOURS, CSRF_TRUSTED_ORIGINS, SECURE_SSL_REDIRECT, SOURCE_CODE_URL (where the footer's
"source code" link points; default: the running code as a zip archive served by the platform itself).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


WEB_DIR = Path(__file__).resolve().parent
REPO_DIR = WEB_DIR.parents[2]
DATA_DIR = Path(os.environ.get("TREMPLIN_DATA_DIR", REPO_DIR / "var")).resolve()
PRIVATE_MEDIA_DIR = DATA_DIR / "private"  # uploads: outside the web root, served by views only
DATASETS_DIR = DATA_DIR / "datasets"

DEBUG = env_bool("DEBUG", False)
# AGPL section 13: users interacting over the network are offered the source of the running version.
SOURCE_CODE_URL = os.environ.get("SOURCE_CODE_URL", "")
TESTING = env_bool("TREMPLIN_TESTING", False)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if not DEBUG and not TESTING:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off (see README: Configuration).")
    # Development: a random key kept in the data directory so sessions survive restarts.
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "tremplin.web.core.apps.TremplinAdminConfig",  # django.contrib.admin, login through allauth
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "rules.apps.AutodiscoverRulesConfig",
    "axes",
    "csp",
    "django_htmx",
    "tremplin.web.core",
    "tremplin.web.accounts",
    "tremplin.web.jobs",
    "tremplin.web.problems",
    "tremplin.web.calls",
    "tremplin.web.portfolio",
    "tremplin.web.evaluations",
    "tremplin.web.horizon",
    "tremplin.web.campaign",
    "tremplin.web.notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tremplin.web.core.middleware.SessionLifetimeMiddleware",
    "tremplin.web.core.middleware.MfaRequiredMiddleware",
    "tremplin.web.core.middleware.NoStoreMiddleware",
    "tremplin.web.core.middleware.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tremplin.web.urls"
WSGI_APPLICATION = "tremplin.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [WEB_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "tremplin.web.core.context_processors.navigation",
            ],
        },
    }
]

# Database: SQLite file by default (WAL, so the web server and the worker can share it);
# PostgreSQL with DATABASE_URL=postgres://user:password@host:5432/name.
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'tremplin.sqlite3'}", conn_max_age=0, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- allauth: login by e-mail, mandatory verification, MFA (TOTP + recovery codes) ---
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Tremplin] "
# Per-IP only: a per-account ("key") limit would let anyone lock a victim out from anywhere. Per
# (account, IP) throttling is django-axes' job (below).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Tremplin"
MFA_ADAPTER = "tremplin.web.core.security.MfaAdapter"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGIN_URL = "account_login"
ACCOUNT_LOGOUT_REDIRECT_URL = "core:home"
# Roles that reach care data must use a second factor.
MFA_REQUIRED_ROLES = {"admin", "evaluator"}

# --- axes: throttle failed logins per (username, IP) with a cool-off, never a permanent lockout ---
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
# API tokens: after this many rejected bearer tokens from one address within the window, 429 (accounts.authentication)
API_TOKEN_FAILURE_LIMIT = int(os.environ.get("API_TOKEN_FAILURE_LIMIT", "20"))
API_TOKEN_FAILURE_WINDOW_SECONDS = int(os.environ.get("API_TOKEN_FAILURE_WINDOW_SECONDS", "900"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "tremplin.web.core.security.axes_username"
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_ENABLE_ADMIN = True

# --- sessions: inactivity timeout (sliding) and absolute lifetime ---
SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
SESSION_ABSOLUTE_HOURS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12"))
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- transport security (production defaults; relaxed only under DEBUG) ---
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# Behind the reverse proxy of deploy/nginx: TLS is read from X-Forwarded-Proto, and the client's address from the
# last X-Forwarded-For entry (the proxy sets it), for the audit log and the API token throttle (core.audit.client_ip).
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- i18n: French by default, English available ---
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [WEB_DIR / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Paris")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [WEB_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(PRIVATE_MEDIA_DIR)}},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = PRIVATE_MEDIA_DIR  # never exposed by a URL; files are streamed by permission-checked views
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Larger uploaded files are streamed to a temporary file (FILE_UPLOAD_MAX_MEMORY_SIZE); form fields other
# than files are limited by DATA_UPLOAD_MAX_MEMORY_SIZE (Django answers 400 above). Uploaded files are refused
# while the body streams in, as soon as its declared length or the bytes received pass the limit
# (core/uploads.py): UPLOAD_MAX_MB for every upload unless its view declares another one (care-data archives:
# DATASET_UPLOAD_MAX_MB, at most DATASET_UNZIPPED_MAX_MB once unzipped; proposal attachments: 10 MB). The
# reverse proxy's body limit goes just above the largest (README: Running in production).
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_MB", "20")) * 1024 * 1024
DATASET_UPLOAD_MAX_BYTES = int(os.environ.get("DATASET_UPLOAD_MAX_MB", "512")) * 1024 * 1024
DATASET_UNZIPPED_MAX_BYTES = int(os.environ.get("DATASET_UNZIPPED_MAX_MB", "2048")) * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "tremplin.web.core.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- e-mail: console by default, SMTP when EMAIL_HOST is set ---
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Tremplin <noreply@tremplin.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The platform's public address, put in front of the links in e-mails (e.g. https://tremplin.example.org).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")

# --- horizon scanning: a signal not reviewed for this many months is flagged and its steward reminded ---
HORIZON_REVIEW_MONTHS = int(os.environ.get("HORIZON_REVIEW_MONTHS", "6"))

# --- API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The session first: anonymous requests keep getting 403 (not 401); rejected tokens get 401 anyway.
        "rest_framework.authentication.SessionAuthentication",
        "tremplin.web.accounts.authentication.ApiTokenAuthentication",
    ],
    # The browsable API (?format=api) only when API_BROWSABLE (below), and without its forms (they list
    # related objects, e.g. every user's e-mail in the membership form).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "tremplin.web.core.api.FormlessBrowsableAPIRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tremplin.web.core.api.ContentNegotiation",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.NamespaceVersioning",
    "ALLOWED_VERSIONS": ["v1"],
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "600/min"},
}
# The browsable API in development only: production serves JSON (the OpenAPI docs stay at /api/docs/).
API_BROWSABLE = DEBUG
SPECTACULAR_SETTINGS = {
    "TITLE": "Tremplin API",
    "DESCRIPTION": "Problems, calls for solutions, experiments, evaluations, funding models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Error responses (400/403/404) documented on every operation, path ids typed (core/openapi.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "tremplin.web.core.openapi.postprocess_errors"],
}

# --- background jobs: django-q2 with the database broker (at-least-once: jobs are idempotent) ---
Q_TIMEOUT = int(os.environ.get("Q_TIMEOUT", "3600"))
Q_CLUSTER = {
    "name": "tremplin",
    "orm": "default",
    "workers": int(os.environ.get("Q_WORKERS", "1")),
    "timeout": Q_TIMEOUT,
    "retry": int(os.environ.get("Q_RETRY", str(Q_TIMEOUT + 60))),
    "max_attempts": int(os.environ.get("Q_MAX_ATTEMPTS", "3")),
    "poll": float(os.environ.get("Q_POLL", "0.5")),
    "ack_failures": True,
    "save_limit": 500,
    "catch_up": False,
    "label": "Jobs",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"django_q": {"level": os.environ.get("Q_LOG_LEVEL", "WARNING")}},
}
