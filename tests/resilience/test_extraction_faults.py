"""Faults during a live extraction run on real workers (Redis broker, PostgreSQL, the fake Anthropic server).

Each scenario queues a run of paper-v1 over conversations written for it, injects its fault while the
workers hold tasks, and asserts the exact end state: every (conversation, feature) stored once, the run
finished, and the fake API's log counting exactly the answers the run needed.

- Redis (broker and rate limiter) killed and started again on its own port, its append-only file kept.
- PostgreSQL connections of the workers terminated (``pg_terminate_backend``) several times.
- The fake API's 429 limit, a 529 storm, 500s, stalls past the client's timeout, garbled bodies, answers
  without ``<answer>`` tags, and requests refused with 400.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from annotate.local_server import free_port
from testing.fake_anthropic import FakeAnthropic
from testing.fake_anthropic.harness import wait_until
from tests.resilience.runs import (
    assert_each_item_once,
    conversations_create,
    conversations_send,
    extraction_pool,
    items,
    run_started,
    wait_finished,
    wait_for_items,
)

pytestmark = [pytest.mark.slow, pytest.mark.services]


class PrivateRedis:
    """A redis-server of the test's own, on its own port, with an append-only file fsynced on every write
    (as a broker that must not lose queued work is run), so the machine's Redis is never disturbed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url(0), socket_connect_timeout=1)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        assert wait_until(up, timeout_s=20, interval_s=0.1), "the test's redis-server did not start"

    def kill(self) -> None:
        """SIGKILL: no shutdown save; only what the append-only file holds survives."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_redis_killed_and_restarted_mid_run_each_item_once(
    requires_postgres: None, private_redis: PrivateRedis, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    from extraction.features import ALL_FEATURES

    fake_anthropic.config.latency_ms = 100
    ids = conversations_create("redis-restart", 40)
    run_id = run_started("redis-restart")
    expected = len(ids) * len(ALL_FEATURES)
    broker, limiter = private_redis.url(0), private_redis.url(1)
    pool = extraction_pool(broker=broker, limiter=limiter, fake=fake_anthropic, logs=tmp_path / "workers")
    sender = Celery(broker=broker, set_as_current=False)
    try:
        pool.start()
        conversations_send(sender, run_id, ids)
        wait_for_items(run_id, expected // 4)
        private_redis.kill()
        at_kill = items(run_id)
        time.sleep(3)  # workers and the limiter find Redis gone
        private_redis.start()
        assert at_kill < expected, "the run finished before Redis went down: nothing was tested"
        wait_finished(run_id, timeout_s=150)
        assert all(pool.alive()), "a worker died with Redis"
    finally:
        pool.stop()
        sender.close()
    assert_each_item_once(run_id, expected)
    repeated = sum(n - 1 for n in fake_anthropic.duplicates().values())
    assert repeated <= 6, f"{repeated} requests repeated (at most one per task the workers held)"
    assert len(fake_anthropic.requests("message", 200)) == expected + repeated
    print(f"Redis killed at {at_kill}/{expected} items; {repeated} request(s) repeated")


def _terminate_worker_connections() -> int:
    """Terminate every other backend on the test database (the workers'); returns how many."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_postgres_connections_terminated_mid_run_each_item_once(
    requires_postgres: None, broker_url: str, redis_url: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    from extraction.features import ALL_FEATURES

    fake_anthropic.config.latency_ms = 100
    ids = conversations_create("pg-terminate", 40)
    run_id = run_started("pg-terminate")
    expected = len(ids) * len(ALL_FEATURES)
    pool = extraction_pool(broker=broker_url, limiter=redis_url, fake=fake_anthropic, logs=tmp_path / "workers")
    sender = Celery(broker=broker_url, set_as_current=False)
    terminated: list[tuple[int, int]] = []
    try:
        pool.start()
        conversations_send(sender, run_id, ids)
        for fraction in (4, 2):
            wait_for_items(run_id, expected // fraction)
            for _ in range(3):
                terminated.append((items(run_id), _terminate_worker_connections()))
                time.sleep(0.7)
        wait_finished(run_id, timeout_s=150)
        assert all(pool.alive()), "a worker died with its connection"
    finally:
        pool.stop()
        sender.close()
    assert sum(n for _, n in terminated) >= 6, f"few connections were terminated: {terminated}"
    assert min(at for at, _ in terminated) < expected, "the run finished before the first termination"
    assert_each_item_once(run_id, expected)
    repeated = sum(n - 1 for n in fake_anthropic.duplicates().values())
    # An answer is asked again only when the write of it died with its connection: one per connection at most.
    assert repeated <= sum(n for _, n in terminated), f"{repeated} requests repeated"
    assert len(fake_anthropic.requests("message", 200)) == expected + repeated
    print(f"terminated (items done, connections): {terminated}; {repeated} request(s) repeated")


@pytest.mark.django_db(transaction=True)
def test_api_storms_errors_timeouts_and_garbage_are_retried_and_refusals_recorded(
    requires_postgres: None, broker_url: str, redis_url: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    from extraction.features import ALL_FEATURES
    from extraction.models import Extraction, ExtractionRun, ExtractionStatus, RunStatus

    refused_at = 7
    ids = conversations_create("api-storms", 30, marked=[refused_at], marker="[refuse this request]")
    run_id = run_started("api-storms")
    n_features = len(ALL_FEATURES)
    expected = len(ids) * n_features
    cfg = fake_anthropic.config
    cfg.latency_ms = 20
    cfg.error_fraction = 0.05  # 500s
    cfg.stall_s, cfg.stall_count = 7.0, 3  # past the client's 5 s timeout
    cfg.garbled_count = 3  # 200 with a cut body
    cfg.malformed_features = frozenset({"response_type"})  # answers without <answer> tags
    cfg.refuse_marker = "[refuse this request]"  # 400: never retried
    pool = extraction_pool(
        broker=broker_url,
        limiter=redis_url,
        fake=fake_anthropic,
        logs=tmp_path / "workers",
        LLM_TIMEOUT_S="5",
        LLM_MAX_RETRIES="12",
    )
    sender = Celery(broker=broker_url, set_as_current=False)
    try:
        pool.start()
        conversations_send(sender, run_id, ids)
        wait_for_items(run_id, 6)
        # Once the workers are busy: five rate-limit refusals (retry-after 0.5 s), then a storm of eight 529s.
        cfg.retry_after_s = 0.5
        cfg.scripted.extend([429] * 5 + [529] * 8)
        wait_finished(run_id, timeout_s=150)
    finally:
        pool.stop()
        sender.close()

    run = ExtractionRun.objects.get(pk=run_id)
    rows = Extraction.objects.filter(run=run)
    statuses = Counter(rows.values_list("status", flat=True))
    answered = len(ids) - 1
    assert rows.count() == rows.values("conversation_id", "feature").distinct().count() == expected
    assert statuses == {
        ExtractionStatus.OK: answered * (n_features - 1),
        ExtractionStatus.PARSE_ERROR: answered,
        ExtractionStatus.FAILED: n_features,
    }
    failed = rows.filter(status=ExtractionStatus.FAILED)
    assert set(failed.values_list("conversation_id", flat=True)) == {ids[refused_at]}
    assert set(failed.values_list("error", flat=True)) == {"HTTP 400 invalid_request_error: the request was refused"}
    assert set(failed.exclude(attempts=0).values_list("attempts", flat=True)) == {1}, "a 400 is never retried"
    parse_errors = rows.filter(status=ExtractionStatus.PARSE_ERROR)
    assert set(parse_errors.values_list("feature", flat=True)) == {"response_type"}
    assert all("no <answer>" in e for e in parse_errors.values_list("error", flat=True))
    assert (run.status, run.failed_items, run.done_items) == (RunStatus.FAILED, n_features, expected - n_features)
    assert run.error == f"{n_features} item(s) failed; run the extraction again to retry them"

    # The fake's log: each answered item answered once; every fault was met and outlasted.
    log = Counter((r.status, r.note) for r in fake_anthropic.requests("message", None))
    assert fake_anthropic.duplicates() == {}
    assert log[(200, "")] == expected - n_features
    assert log[(400, "")] == n_features
    assert (log[(0, "stalled")], log[(0, "garbled")]) == (3, 3)
    assert (log[(429, "")], log[(529, "")]) == (5, 8)
    assert log[(500, "")] > 0, log
    print(f"requests by (status, note): {dict(log)}")
