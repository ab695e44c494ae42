"""Rapport settings, read from ``RAPPORT_*`` environment variables.

Every variable goes through a small strict helper: a bad value stops start-up with a
message naming the variable. Secrets may also come from ``RAPPORT_<NAME>_FILE``.
Practice and group policies live in the database, not here.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent


def env_str(name: str, default: str = "") -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path}: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("RAPPORT_DEBUG", False)
VAR_DIR = Path(env_str("RAPPORT_VAR_DIR", str(PROJECT_DIR / "var")))


def _local_secret_key() -> str:
    """A random key kept under var/, so a laptop install needs no configuration."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("RAPPORT_SECRET_KEY") or _local_secret_key()
# The address patients use to reach this installation, for links in messages.
RAPPORT_BASE_URL = env_str("RAPPORT_BASE_URL", "http://127.0.0.1:8000")
ALLOWED_HOSTS = env_list("RAPPORT_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "huey.contrib.djhuey",
    "django_ratelimit",
    "rapport",
    "core",
    "patients",
    "messaging",
    "feedback",
    "recovery",
    "loyalty",
    "records",
    "calls",
    "vendors",
    "analytics",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.CurrentPracticeMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "rapport.urls"
WSGI_APPLICATION = "rapport.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.current_practice",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("RAPPORT_DATABASE_URL", "")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"RAPPORT_DATABASE_URL: {exc}") from exc
    if _db["ENGINE"] == "django.db.backends.sqlite3":
        _db["OPTIONS"] = {}
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "rapport.sqlite3"),
        # Reopening the file and rerunning the PRAGMAs cost ~1 ms a request.
        "CONN_MAX_AGE": 60,
    }
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN: without it concurrent read-then-write
    # transactions fail at once with "database is locked" whatever the busy timeout.
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 5,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=5000;PRAGMA foreign_keys=ON;"
            ),
        }
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background work ------------------------------------------------------------------
REDIS_URL = env_str("RAPPORT_REDIS_URL", "")
HUEY_IMMEDIATE = env_bool("RAPPORT_HUEY_IMMEDIATE", False)
# SIGTERM (systemd's and docker's stop signal) lets running tasks finish instead of killing them.
_CONSUMER = {
    "workers": env_int("RAPPORT_WORKER_THREADS", 2),
    "worker_type": "thread",
    "graceful_signal": "TERM",
    "shutdown_timeout": 60,
    "periodic": True,
}
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "rapport",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": _CONSUMER,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "rapport",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": _CONSUMER,
    }

# --- Cache: rate limits of public pages are counted here ------------------------------
# Django's own Redis cache increments atomically (INCR), which is what rate limits need.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # The embedded default has no shared cache: limits are counted per web process, so
    # with N workers a limit is at most N times looser, and still bounded.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
RATELIMIT_VIEW = "core.views.rate_limited"

# --- Auth and sessions ----------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("RAPPORT_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Locale, static -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end libraries come from npm at install time (`npm ci`, run by the Makefile).
STATICFILES_DIRS = [("chart.js", PROJECT_DIR / "node_modules" / "chart.js" / "dist")]
WHITENOISE_USE_FINDERS = True
# Static files are served from the app folders (finders); STATIC_ROOT may not exist.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# --- Email ----------------------------------------------------------------------------
EMAIL_HOST = env_str("RAPPORT_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("RAPPORT_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("RAPPORT_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("RAPPORT_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("RAPPORT_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("RAPPORT_EMAIL_FROM", "Rapport <rapport@localhost>")

# --- Outbox: every message is a row first; these tune delivery (TRUST.md R1, R2) -----
RAPPORT_OUTBOX_LEASE_SECONDS = env_int("RAPPORT_OUTBOX_LEASE_SECONDS", 300)
RAPPORT_OUTBOX_MAX_ATTEMPTS = env_int("RAPPORT_OUTBOX_MAX_ATTEMPTS", 6)
RAPPORT_OUTBOX_RETRY_BASE_SECONDS = env_int("RAPPORT_OUTBOX_RETRY_BASE_SECONDS", 240)
RAPPORT_SMS_PROVIDER = env_str("RAPPORT_SMS_PROVIDER", "messaging.sms.LoggingSmsProvider")

# --- Logging: never log patient data; requests are logged by method and path only ----
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("RAPPORT_LOG_LEVEL", "INFO")},
    # fpdf2 subsets fonts with fontTools, which logs every glyph list at INFO.
    "loggers": {"fontTools": {"level": "WARNING"}},
}

# --- Imports --------------------------------------------------------------------------
RAPPORT_IMPORT_MAX_BYTES = env_int("RAPPORT_IMPORT_MAX_BYTES", 200 * 1024 * 1024)
