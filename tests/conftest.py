"""Shared fixtures.

Services: a test that needs PostgreSQL, Redis or a worker asks for the fixture below. Outside CI a
missing service skips the test with the reason; in CI (``CI=true``) it fails, so CI never silently
skips what it must run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The fake Anthropic server fixture (``fake_anthropic``) for the LLM client's tests, and the session's throwaway
# Label Studio (``local_label_studio``, ``label_studio``), shared by tests/annotate and tests/browser.
pytest_plugins = ["testing.fake_anthropic.pytest_plugin", "tests.labelstudio_fixtures"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> None:
    """Each test starts with no request counted against the API throttles (config/throttling.py): users of
    different tests may share an id, and the counts outlive the test's database transaction."""
    from django.core.cache import cache

    cache.clear()


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


def pytest_configure(config: pytest.Config) -> None:
    # The SQLite test database is a file under var/ so that worker processes can share it.
    (REPO_ROOT / "var").mkdir(exist_ok=True)


def session_database_url() -> str:
    """A DATABASE_URL for this session's test database, for processes started by a test (workers)."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{s['NAME']}"
    user = quote(s.get("USER") or "postgres")
    password = f":{quote(s['PASSWORD'])}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def worker_env(broker_url: str) -> dict[str, str]:
    """Environment for a Celery worker process on the test settings, sharing this session's database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_WORKER_BROKER_URL": broker_url,
        "DATABASE_URL": session_database_url(),
    }


@pytest.fixture
def celery_broker_url(redis_url: str) -> str:
    """A Redis database used as the broker of worker processes started by a test, flushed first."""
    import redis

    base, db = redis_url.rsplit("/", 1)
    url = f"{base}/{os.environ.get('TEST_CELERY_BROKER_DB', int(db) - 1)}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def celery_worker_process(celery_broker_url: str, transactional_db: None) -> Iterator[str]:
    """One real worker process on Redis, sharing the test database; yields the broker URL."""
    from testing.fake_anthropic.harness import WorkerPool

    pool = WorkerPool(env=worker_env(celery_broker_url), count=1, concurrency=1, pool="prefork").start()
    time.sleep(0.5)
    if not all(pool.alive()):
        pool.stop()
        pytest.fail("celery worker exited at start")
    try:
        yield celery_broker_url
    finally:
        pool.stop()


@pytest.fixture(autouse=True)
def _empty_report_cache() -> None:
    """Reports are cached by the version of their data (newest ids, run counters). A test's rows are rolled back
    and SQLite hands the same ids out again, so a report cached in one test could answer for another: each test
    starts with an empty cache."""
    from django.core.cache import cache

    cache.clear()


def celery_forget_connections(app: Any) -> None:
    """Drop the Celery app's pooled connections and producers, which keep the broker they were made for: after
    ``app.conf.broker_url`` changes, a task would otherwise still go to the previous broker (or, when that pool was
    closed, fail with "Acquire on closed pool"). kombu keeps pools in process-wide registries too."""
    from kombu import pools as kombu_pools

    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    kombu_pools.reset()


@contextmanager
def celery_conf(app: Any, **conf: Any) -> Iterator[None]:
    """The process's Celery ``app`` with ``conf`` (another broker, eager or not) for the block, then as before; the
    connections pooled for the other broker are dropped on the way in and out."""
    saved = {key: app.conf[key] for key in conf}
    app.conf.update(conf)
    celery_forget_connections(app)
    try:
        yield
    finally:
        app.conf.update(saved)
        celery_forget_connections(app)


@pytest.fixture
def queue_without_workers(redis_url: str) -> Iterator[str]:
    """Tasks are sent to Redis and nobody runs them: what a busy or slow worker pool looks like to the API, and
    what a test counts (``llen("celery")``). The broker's URL."""
    import redis

    from config.celery import app

    redis.Redis.from_url(redis_url).flushdb()  # what earlier tests' workers left on the test database
    with celery_conf(app, broker_url=redis_url, task_always_eager=False):
        yield redis_url
    redis.Redis.from_url(redis_url).flushdb()
