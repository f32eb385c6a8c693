"""Test settings: the same code paths as production, fast password hashing, eager tasks by default.

Tests that need real services (PostgreSQL via DATABASE_URL, Redis via REDIS_URL / a worker) opt in
through the fixtures in tests/conftest.py.
"""

import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-insecure-key")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A worker process started by a test (tests/conftest.py: start_worker) uses these settings with
# TEST_WORKER_BROKER_URL set, and must see the test database: on SQLite that needs a file, not the default
# in-memory database. Only that subprocess gets the variable, so the test session itself stays eager.
CELERY_BROKER_URL = env("TEST_WORKER_BROKER_URL", default="")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test-db.sqlite3")}  # noqa: F405

# Candidate prompt sets made by tests go to a directory of their own, never to var/.
EXTRACTION_CANDIDATES_DIR = Path(tempfile.mkdtemp(prefix="vitw-candidates-"))

# Throttle counts in process memory (tests/conftest.py clears them before each test); a test that needs Redis sets
# CACHES itself.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
