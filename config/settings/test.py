"""Test settings: the same code paths as production, fast password hashing, eager tasks by default.

Tests that need real services (PostgreSQL via DATABASE_URL, Redis via REDIS_URL / a worker) opt in
through the fixtures in tests/conftest.py.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-insecure-key")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_BROKER_URL = ""
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = True
