"""Django settings for semrec.

Every setting can be overridden from the environment, so one image serves the
embedded default (no variables at all) and production (DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY, ...).
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STATE_DIR = Path(os.environ.get("SEMREC_STATE_DIR", BASE_DIR / ".semrec"))


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("SECRET_KEY", "semrec-insecure-development-key-change-me")
DEBUG = _env_flag("DEBUG", True)
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

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
    "semrec.recommend",
    "semrec.api",
    "semrec.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "semrec.embedded_db",
            "NAME": os.environ.get("SEMREC_DB_NAME", "semrec"),
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
STATIC_ROOT = BASE_DIR / "staticfiles"

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
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None

# semrec's own settings.
SEMREC_DATA_DIR = os.environ.get("SEMREC_DATA_DIR", str(STATE_DIR / "datasets"))
SEMREC_MOVIELENS_BASE_URL = os.environ.get(
    "SEMREC_MOVIELENS_BASE_URL", "https://files.grouplens.org/datasets/movielens/"
)
SEMREC_MAX_BATCH_ROWS = 10_000
SEMREC_RUNTIME_REFRESH_SECONDS = float(os.environ.get("SEMREC_RUNTIME_REFRESH_SECONDS", "5"))
# Scorer used when a strategy's own fallback scorer is not installed either.
SEMREC_LAST_RESORT_SCORER = "popularity"
# Scorer used when a strategy's own fallback scorer is not installed either.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "semrec": {"handlers": ["console"], "level": os.environ.get("SEMREC_LOG_LEVEL", "INFO")},
        "pgserver": {"handlers": ["console"], "level": "WARNING"},
    },
}
