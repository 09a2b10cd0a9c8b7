"""Django settings for semrec.

Every setting can be overridden from the environment, so one image serves the
embedded default (no variables at all) and production (DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, ...).
"""

import os
import re
from pathlib import Path

import dj_database_url
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Every value below that can be overridden is read from the process
# environment; django-environ parses booleans, integers and lists.
env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STATE_DIR = Path(env.str("SEMREC_STATE_DIR", default=str(BASE_DIR / ".semrec")))

# DEBUG off means production: SECRET_KEY is then required and the HTTPS
# settings further down default to on.
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="") or ("semrec-insecure-development-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set (or empty), and it is required when DEBUG is off. Set the SECRET_KEY "
        "environment variable to a long random value, for example the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
# Old keys that still validate sessions and signatures while a new key rolls out.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS and cookie hardening, on by default when DEBUG is off. Behind a proxy
# that terminates TLS, set SECURE_PROXY_SSL_HEADER to the header that proxy
# sets (usually HTTP_X_FORWARDED_PROTO), so that Django treats its requests
# as HTTPS instead of redirecting them.
if env.str("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = (env.str("SECURE_PROXY_SSL_HEADER"), "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

# Prometheus metrics: the URL path, and who may read it. A request must come
# from one of the networks (when any are listed) and carry the token as
# "Authorization: Bearer <token>" (when one is set). Behind a proxy every
# request comes from the proxy's address, so block the path at the proxy too.
SEMREC_METRICS_PATH = env.str("SEMREC_METRICS_PATH", default="metrics").strip("/")
SEMREC_METRICS_TOKEN = env.str("SEMREC_METRICS_TOKEN", default="")
SEMREC_METRICS_ALLOWED_NETWORKS = env.list(
    "SEMREC_METRICS_ALLOWED_NETWORKS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
)
# Plain HTTP scrapes from inside the network are not redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [rf"^{re.escape(SEMREC_METRICS_PATH)}/?$"]

# Folder for downloaded encoder weights: the Hugging Face cache goes in
# huggingface/ inside it unless HF_HOME is set. Unset, the Hugging Face
# default under the home folder applies.
SEMREC_ARTIFACT_DIR = env.str("SEMREC_ARTIFACT_DIR", default="")
if SEMREC_ARTIFACT_DIR:
    os.environ.setdefault("HF_HOME", str(Path(SEMREC_ARTIFACT_DIR) / "huggingface"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "semrec.tenants",
    "semrec.catalog",
    "semrec.vectors",
    "semrec.strategies",
    "semrec.training",
    "semrec.evaluation",
    "semrec.recommend",
    "semrec.api",
    "semrec.demo",
    "semrec.ops",
    "semrec.insights",
]

MIDDLEWARE = [
    # Probes are handled first, before host validation and HTTPS redirects,
    # because load balancers send them to the container's own address.
    "semrec.ops.middleware.ProbeMiddleware",
    "semrec.ops.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if not DEBUG:
    # WhiteNoise serves the static files collected into the image; the
    # development server serves them itself.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

ROOT_URLCONF = "semrec.urls"
WSGI_APPLICATION = "semrec.wsgi.application"
ASGI_APPLICATION = "semrec.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Database: DATABASE_URL selects an external PostgreSQL with pgvector; without
# it the embedded backend starts a private server under STATE_DIR on first use.
# dj-database-url parses the URL because django-environ's parser keeps a Unix
# socket folder percent-encoded (postgres://user@%2Frun%2Fpg/db).
if env.str("DATABASE_URL", default=""):
    DATABASES = {
        "default": dj_database_url.parse(
            env.str("DATABASE_URL"), conn_max_age=env.int("CONN_MAX_AGE", default=60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "semrec.embedded_db",
            "NAME": env.str("SEMREC_DB_NAME", default="semrec"),
            "USER": "postgres",
            "DATA_DIR": str(STATE_DIR / "pgdata"),
            "CONN_MAX_AGE": 60,
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("SEMREC_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
if not DEBUG:
    # Hashed, compressed copies made by collectstatic: a changed file gets a
    # new name, so browsers may keep each one in their cache.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["semrec.tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["semrec.tenants.authentication.HasTenant"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "semrec.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "semrec API",
    "DESCRIPTION": "Items, users, events and recommendations for one tenant per API key.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package's static files, so the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# A full batch of 10,000 events is a few MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

# Celery: with no broker every task runs eagerly in the calling process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# Queues: encoding and training go to the GPU queue, everything else to the
# default one. docker/entrypoint.sh consumes the same names ("celery", "gpu").
CELERY_TASK_DEFAULT_QUEUE = env.str("SEMREC_DEFAULT_QUEUE", default="celery")
SEMREC_GPU_QUEUE = env.str("SEMREC_GPU_QUEUE", default="gpu")
CELERY_TASK_ROUTES = {
    "semrec.encode_items": {"queue": SEMREC_GPU_QUEUE},
    "semrec.encode_changed_items": {"queue": SEMREC_GPU_QUEUE},
    "semrec.train_strategy": {"queue": SEMREC_GPU_QUEUE},
}
# A task whose worker process dies is sent again. With Redis, a message that a
# killed worker never acknowledged comes back after this many seconds.
# NOTE: a task running longer than the visibility timeout is delivered a
# second time while the first still runs; raise it for very long encodes.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("SEMREC_BROKER_VISIBILITY_TIMEOUT", default=6 * 3600)}
# Retries of a task that failed on a lost database or broker connection.
SEMREC_TASK_MAX_RETRIES = env.int("SEMREC_TASK_MAX_RETRIES", default=5)
# Items committed per transaction while encoding; a re-run resumes after the last one.
SEMREC_ENCODE_CHUNK = env.int("SEMREC_ENCODE_CHUNK", default=1024)
# Encode items saved through the API into the spaces that already exist.
SEMREC_ENCODE_ON_SAVE = env.bool("SEMREC_ENCODE_ON_SAVE", default=True)
# Celery beat checks the training schedules (TrainingSchedule rows) this often.
SEMREC_SCHEDULE_CHECK_SECONDS = env.int("SEMREC_SCHEDULE_CHECK_SECONDS", default=300)
CELERY_BEAT_SCHEDULE = {
    "queue-due-training-schedules": {"task": "semrec.queue_due_schedules", "schedule": float(SEMREC_SCHEDULE_CHECK_SECONDS)},
}

# semrec's own settings.
SEMREC_DATA_DIR = env.str("SEMREC_DATA_DIR", default=str(STATE_DIR / "datasets"))
SEMREC_MOVIELENS_BASE_URL = env.str(
    "SEMREC_MOVIELENS_BASE_URL", default="https://files.grouplens.org/datasets/movielens/"
)
SEMREC_MAX_BATCH_ROWS = 10_000
# Query texts longer than this many characters are refused with HTTP 400.
SEMREC_MAX_QUERY_LENGTH = 500
SEMREC_QUERY_CACHE_SIZE = 10_000
SEMREC_RUNTIME_REFRESH_SECONDS = env.float("SEMREC_RUNTIME_REFRESH_SECONDS", default=5.0)
# Scorer used when a strategy's own fallback scorer is not installed either.
SEMREC_LAST_RESORT_SCORER = "popularity"
# Scorer used when a strategy's own fallback scorer is not installed either.

# Log lines: "plain" text or one JSON object per line. Both formatters mask
# API keys, passwords in URLs and the secret settings (semrec.ops.logs).
SEMREC_LOG_FORMAT = env.str("SEMREC_LOG_FORMAT", default="plain")
if SEMREC_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"SEMREC_LOG_FORMAT is {SEMREC_LOG_FORMAT!r}; set it to 'plain' or 'json'.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "semrec.ops.logs.PlainFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "semrec.ops.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": SEMREC_LOG_FORMAT}},
    "loggers": {
        # Django sends request errors only to mail_admins when DEBUG is off;
        # this handler writes them to the log in production too. Responses
        # with 4xx codes are already in the request log of semrec.ops.
        "django": {"handlers": ["console"], "level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "semrec": {"handlers": ["console"], "level": env.str("SEMREC_LOG_LEVEL", default="INFO")},
        "pgserver": {"handlers": ["console"], "level": "WARNING"},
    },
}
