"""Settings shared by every environment, read from the environment with django-environ.

Nothing here creates files or directories at import time. Secrets have no default outside
``local``/``test``; ``production`` refuses to start without them.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file is optional; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "accounts",
    "corpus",
    "extraction",
    "annotate",
    "validation",
    "analysis",
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
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite file by default (zero configuration); PostgreSQL when DATABASE_URL is set.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Values in the Wild workbench API",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Celery: without a broker, tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# Redis for shared state between workers (e.g. the LLM rate limiter). Empty: in-process state.
REDIS_URL = env("REDIS_URL", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Label Studio (the review loop, annotate app). `make labelstudio` starts a local one on LABEL_STUDIO_PORT; set
# LABEL_STUDIO_URL to use an existing server. The webhook secret is the value Label Studio sends in
# LABEL_STUDIO_WEBHOOK_HEADER; LABEL_STUDIO_WEBHOOK_URL is where Label Studio reaches this app (empty: no webhook,
# reconciliation alone brings annotations in).
LABEL_STUDIO_PORT = env.int("LABEL_STUDIO_PORT", default=8089)
LABEL_STUDIO_URL = env("LABEL_STUDIO_URL", default=f"http://127.0.0.1:{LABEL_STUDIO_PORT}")
LABEL_STUDIO_API_KEY = env("LABEL_STUDIO_API_KEY", default="")
LABEL_STUDIO_DATA_DIR = env("LABEL_STUDIO_DATA_DIR", default=str(BASE_DIR / "var" / "labelstudio"))
LABEL_STUDIO_WEBHOOK_SECRET = env("LABEL_STUDIO_WEBHOOK_SECRET", default="")
LABEL_STUDIO_WEBHOOK_HEADER = env("LABEL_STUDIO_WEBHOOK_HEADER", default="X-Webhook-Secret")
LABEL_STUDIO_WEBHOOK_URL = env("LABEL_STUDIO_WEBHOOK_URL", default="")
LABEL_STUDIO_TIMEOUT_S = env.float("LABEL_STUDIO_TIMEOUT_S", default=120.0)
LABEL_STUDIO_RETRIES = env.int("LABEL_STUDIO_RETRIES", default=3)
LABEL_STUDIO_PUSH_BATCH_SIZE = env.int("LABEL_STUDIO_PUSH_BATCH_SIZE", default=1000)
LABEL_STUDIO_RECONCILE_EVERY_S = env.float("LABEL_STUDIO_RECONCILE_EVERY_S", default=300.0)
CELERY_BEAT_SCHEDULE["annotate-reconcile"] = {
    "task": "annotate.tasks.annotations_reconcile_all",
    "schedule": LABEL_STUDIO_RECONCILE_EVERY_S,
}
