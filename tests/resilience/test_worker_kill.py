"""kill -9 of a Celery worker in the middle of a live extraction run, then a restart.

Two real workers (threads pool) on Redis and PostgreSQL run paper-v1 on 60 conversations against
the fake Anthropic server. One worker is SIGKILLed while it holds tasks; it is restarted; the broker
redelivers the tasks it had taken (acks_late, visibility timeout) and the run completes with each
(conversation, feature) extracted exactly once, and no more requests repeated than were in flight
on the killed worker (one per task it held: a conversation's requests go out one after another).
"""

from __future__ import annotations

import os

import pytest
import redis
from celery import Celery

from testing.fake_anthropic import FakeAnthropic
from testing.fake_anthropic.harness import WorkerPool, redis_flush, wait_until, worker_env
from tests.conftest import session_database_url

# A Redis database this test may flush, for the workers' broker.
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/10")
CONVERSATIONS = 60
CONCURRENCY = 3


def _conversations() -> list[int]:
    """Conversations written for this test (not real data): short exchanges with distinct wording."""
    from corpus.models import Conversation, Dataset

    dataset = Dataset.objects.create(name="kill-test", description="Conversations written for the worker-kill test.")
    ids = []
    for i in range(CONVERSATIONS):
        messages = [
            {"role": "user", "content": f"Example question {i}: should I tell my neighbour about problem {i}?"},
            {"role": "assistant", "content": f"Example answer {i}: being honest and kind matters here."},
        ]
        conv = Conversation.objects.create(
            dataset=dataset,
            external_id=f"kill-{i}",
            source="hh",
            messages=messages,
            content_hash=f"kill-{i}",
            turn_count=2,
        )
        ids.append(conv.pk)
    return ids


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_run_then_restart_extracts_each_item_once(
    requires_postgres: None, redis_url: str, fake_anthropic: FakeAnthropic, tmp_path: object
) -> None:
    from extraction.features import ALL_FEATURES
    from extraction.models import Extraction, ExtractionRun, ExtractionStatus, RunStatus
    from extraction.services import run_create, run_start

    try:
        redis.Redis.from_url(BROKER_URL).ping()
    except redis.RedisError as exc:  # pragma: no cover - the redis_url fixture already checked the server
        pytest.fail(f"broker {BROKER_URL} unreachable: {exc}")
    fake_anthropic.config.latency_ms = 150
    conversation_ids = _conversations()
    run = run_create(
        dataset="kill-test",
        prompt_set="paper-v1",
        provider="anthropic",
        all_conversations=True,
    )
    run = run_start(run=run)
    expected = CONVERSATIONS * len(ALL_FEATURES)

    redis_flush(BROKER_URL)
    env = worker_env(
        database_url=session_database_url(),
        broker_url=BROKER_URL,
        limiter_redis_url=redis_url,
        anthropic_base_url=fake_anthropic.base_url,
        requests_per_minute=6000,
        visibility_timeout_s=8,  # the killed worker's tasks come back after 8 s
    )
    pool = WorkerPool(env=env, count=2, concurrency=CONCURRENCY, log_dir=tmp_path)  # type: ignore[arg-type]
    sender = Celery(broker=BROKER_URL, set_as_current=False)
    try:
        pool.start()
        for conversation_id in conversation_ids:
            sender.send_task("extraction.process_conversation", args=(run.pk, conversation_id))

        def items() -> int:
            return Extraction.objects.filter(run=run).count()

        assert wait_until(lambda: items() >= expected // 4, timeout_s=120), f"no progress: {items()} items"
        in_flight_before = len(fake_anthropic.requests("message", None))
        pool.kill(0)
        done_at_kill = items()
        assert done_at_kill < expected, "the run finished before the kill: nothing was tested"
        pool.restart(0)

        def finished() -> bool:
            return ExtractionRun.objects.get(pk=run.pk).status in (RunStatus.SUCCEEDED, RunStatus.FAILED)

        assert wait_until(finished, timeout_s=180), f"run did not finish: {items()}/{expected} items"
    finally:
        pool.stop()
        sender.close()

    run.refresh_from_db()
    rows = Extraction.objects.filter(run=run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert rows.count() == expected
    assert rows.values("conversation_id", "feature").distinct().count() == expected
    assert not rows.exclude(status=ExtractionStatus.OK).exists()
    repeated = sum(n - 1 for n in fake_anthropic.duplicates().values())
    # At most one request per task the killed worker held (prefetch multiplier 1, CONCURRENCY threads).
    assert repeated <= CONCURRENCY, f"{repeated} requests repeated; {in_flight_before} sent before the kill"
    answered = len(fake_anthropic.requests("message", 200))
    assert answered == expected + repeated
    print(f"killed at {done_at_kill}/{expected} items; {repeated} request(s) repeated after the kill")
