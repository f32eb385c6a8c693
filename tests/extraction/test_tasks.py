"""Two real Celery workers (Redis broker, PostgreSQL) split a queued replay run; each item is done once."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis

from extraction.models import Extraction, ExtractionRun, RunStatus
from extraction.services import run_create, run_queue
from testing.fake_anthropic.harness import WorkerPool, redis_flush, wait_until, worker_env
from tests.conftest import celery_forget_connections, session_database_url
from tests.extraction.conftest import RecordingsWriter

# The Redis database worker tests may flush (see README: TEST_CELERY_BROKER_URL).
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/10")


def _use_broker(app: Any, url: str, *, eager: bool) -> None:
    """Point the process's Celery app at ``url``, dropping connections pooled for the previous broker."""
    app.conf.broker_url = url
    app.conf.task_always_eager = eager
    celery_forget_connections(app)


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_workers_split_a_queued_run(
    requires_postgres: None,
    redis_url: str,
    small_dataset: Any,
    write_recordings: RecordingsWriter,
    settings: Any,
    tmp_path: Any,
) -> None:
    try:
        redis.Redis.from_url(BROKER_URL).ping()
    except redis.RedisError as exc:  # pragma: no cover - the redis_url fixture already checked the server
        pytest.fail(f"broker {BROKER_URL} unreachable: {exc}")
    recordings = write_recordings()
    redis_flush(BROKER_URL)
    env = worker_env(
        database_url=session_database_url(),
        broker_url=BROKER_URL,
        limiter_redis_url=redis_url,
        anthropic_base_url="http://127.0.0.1:9",  # never used: the run replays recordings
        requests_per_minute=6000,
        extra={"EXTRACTION_REPLAY_FILE": str(recordings), "EXTRACTION_WATCH_INTERVAL_S": "0.5"},
    )
    pool = WorkerPool(env=env, count=2, concurrency=2, log_dir=tmp_path)
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    _use_broker(app, BROKER_URL, eager=False)
    try:
        pool.start()
        run = run_create(dataset="small", prompt_set="paper-v1", provider="replay")
        assert run_queue(run=run) == 4

        def finished() -> bool:
            return ExtractionRun.objects.get(pk=run.pk).status != RunStatus.RUNNING

        assert wait_until(finished, timeout_s=120), "the run did not finish"
    finally:
        pool.stop()
        _use_broker(app, "", eager=True)
    # The tasks went through this broker (not run in-process): kombu bound the queue there.
    assert redis.Redis.from_url(BROKER_URL).exists("_kombu.binding.celery")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    keys = list(Extraction.objects.values_list("conversation_id", "feature"))
    assert len(keys) == len(set(keys)) == 4 + 2 * 5
    assert (run.done_items, run.total_items) == (14, 14)
