"""kill -9 of a Celery worker in the middle of a live extraction run, then a restart.

Two real workers (threads pool) on Redis and PostgreSQL run paper-v1 on 60 conversations against
the fake Anthropic server. One worker is SIGKILLed while it holds tasks; it is restarted; the broker
redelivers the tasks it had taken (acks_late, visibility timeout) and the run completes with each
(conversation, feature) extracted exactly once, and no more requests repeated than were in flight
on the killed worker (one per task it held: a conversation's requests go out one after another).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery

from testing.fake_anthropic import FakeAnthropic
from tests.resilience.runs import (
    THREADS,
    assert_each_item_once,
    conversations_create,
    conversations_send,
    extraction_pool,
    items,
    run_started,
    wait_finished,
    wait_for_items,
)

CONVERSATIONS = 60


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_run_then_restart_extracts_each_item_once(
    requires_postgres: None, broker_url: str, redis_url: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    from extraction.features import ALL_FEATURES

    fake_anthropic.config.latency_ms = 150
    conversation_ids = conversations_create("kill-test", CONVERSATIONS)
    run_id = run_started("kill-test")
    expected = CONVERSATIONS * len(ALL_FEATURES)
    # The killed worker's tasks come back after the pool's visibility timeout (8 s).
    pool = extraction_pool(broker=broker_url, limiter=redis_url, fake=fake_anthropic, logs=tmp_path)
    sender = Celery(broker=broker_url, set_as_current=False)
    try:
        pool.start()
        conversations_send(sender, run_id, conversation_ids)
        wait_for_items(run_id, expected // 4)
        in_flight_before = len(fake_anthropic.requests("message", None))
        pool.kill(0)
        done_at_kill = items(run_id)
        assert done_at_kill < expected, "the run finished before the kill: nothing was tested"
        pool.restart(0)
        wait_finished(run_id, timeout_s=180)
    finally:
        pool.stop()
        sender.close()

    assert_each_item_once(run_id, expected)
    repeated = sum(n - 1 for n in fake_anthropic.duplicates().values())
    # At most one request per task the killed worker held (prefetch multiplier 1, THREADS threads).
    assert repeated <= THREADS, f"{repeated} requests repeated; {in_flight_before} sent before the kill"
    answered = len(fake_anthropic.requests("message", 200))
    assert answered == expected + repeated
    print(f"killed at {done_at_kill}/{expected} items; {repeated} request(s) repeated after the kill")
