"""Shared fixtures.

Services: a test that needs PostgreSQL, Redis or a worker asks for the fixture below. Outside CI a
missing service skips the test with the reason; in CI (``CI=true``) it fails, so CI never silently
skips what it must run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The fake Anthropic server fixture (``fake_anthropic``) for the LLM client's tests.
pytest_plugins = ["bench.fake_anthropic.pytest_plugin"]


def missing_service(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real external data. Skips when absent (it is always present in CI)."""
    if not SHARED_DATA.is_dir():
        missing_service(f"{SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database reserved for tests (TEST_REDIS_URL, default db 15 on localhost), flushed first."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing_service(f"Redis not reachable at {url}: {exc}")
    client.flushdb()
    return url


@pytest.fixture
def requires_postgres(db: None) -> None:
    """Fail in CI / skip locally unless the test database is PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("this test needs PostgreSQL (set DATABASE_URL)")
