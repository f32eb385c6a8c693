"""Extraction runs of the resilience suite: conversations written for it, a run queued to real workers, and the
end state every extraction scenario asserts (each (conversation, feature) stored once, the run finished).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from celery import Celery

from testing.fake_anthropic import FakeAnthropic
from testing.fake_anthropic.harness import WorkerPool, wait_until, worker_env
from tests.conftest import session_database_url

# Two workers of three threads: the scenarios count repeated requests against the tasks the workers hold.
WORKERS = 2
THREADS = 3


def conversations_create(dataset: str, n: int, *, marked: Sequence[int] = (), marker: str = "") -> list[int]:
    """``n`` short exchanges with distinct wording (written for the suite, not real data); ``marked`` ones
    carry ``marker`` in their question."""
    from corpus.models import Conversation, Dataset

    data = Dataset.objects.create(name=dataset, description="Conversations written for the resilience suite.")
    ids = []
    for i in range(n):
        extra = f" {marker}" if i in marked else ""
        messages = [
            {"role": "user", "content": f"Example question {i}: should I tell my friend about plan {i}?{extra}"},
            {"role": "assistant", "content": f"Example answer {i}: honesty and care both matter here."},
        ]
        conv = Conversation.objects.create(
            dataset=data,
            external_id=f"{dataset}-{i}",
            source="hh",
            messages=messages,
            content_hash=f"{dataset}-{i}",
            turn_count=2,
        )
        ids.append(conv.pk)
    return ids


def extraction_pool(*, broker: str, limiter: str, fake: FakeAnthropic, logs: Path, **extra: str) -> WorkerPool:
    """The scenario's extraction workers (not started): this session's database, the fake API, a task a dead
    worker held handed out again after 8 s."""
    env = worker_env(
        database_url=session_database_url(),
        broker_url=broker,
        limiter_redis_url=limiter,
        anthropic_base_url=fake.base_url,
        requests_per_minute=6000,
        visibility_timeout_s=8,
        extra=extra,
    )
    return WorkerPool(env=env, count=WORKERS, concurrency=THREADS, log_dir=logs)


def run_started(dataset: str) -> int:
    """A live run of paper-v1 over every conversation of ``dataset`` (every feature on each), started."""
    from extraction.services import run_create, run_start

    run = run_create(dataset=dataset, prompt_set="paper-v1", provider="anthropic", all_conversations=True)
    return run_start(run=run).pk


def conversations_send(sender: Celery, run_id: int, conversation_ids: Sequence[int]) -> None:
    for conversation_id in conversation_ids:
        sender.send_task("extraction.process_conversation", args=(run_id, conversation_id))


def items(run_id: int) -> int:
    from extraction.models import Extraction

    return Extraction.objects.filter(run_id=run_id).count()


def wait_for_items(run_id: int, at_least: int, *, timeout_s: float = 120) -> None:
    assert wait_until(lambda: items(run_id) >= at_least, timeout_s=timeout_s, interval_s=0.1), (
        f"no progress: {items(run_id)} items"
    )


def wait_finished(run_id: int, *, timeout_s: float, during: Callable[[], None] | None = None) -> None:
    """Wait until the run succeeded or failed, calling ``during`` every half second meanwhile."""
    from extraction.models import ExtractionRun, RunStatus

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ExtractionRun.objects.get(pk=run_id).status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            return
        if during is not None:
            during()
        time.sleep(0.5)
    raise AssertionError(f"the run did not finish in {timeout_s:.0f} s: {items(run_id)} items")


def assert_each_item_once(run_id: int, expected: int) -> None:
    """Every (conversation, feature) of the run stored exactly once, every one answered, the run succeeded."""
    from extraction.models import Extraction, ExtractionRun, ExtractionStatus, RunStatus

    run = ExtractionRun.objects.get(pk=run_id)
    rows = Extraction.objects.filter(run=run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert rows.count() == expected
    assert rows.values("conversation_id", "feature").distinct().count() == expected
    assert not rows.exclude(status=ExtractionStatus.OK).exists()
    assert (run.done_items, run.total_items, run.failed_items) == (expected, expected, 0)
