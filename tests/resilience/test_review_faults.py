"""Faults in the review loop against the session's real Label Studio, with the push and the reconciliation run
by a real Celery worker (Redis broker, PostgreSQL), as in production.

- A worker SIGKILLed in the middle of a push, then restarted: the broker hands the task out again and the push
  resumes; every item is in Label Studio exactly once and the app's task map is Label Studio's.
- A worker SIGKILLed in the middle of a reconciliation, then restarted: the database equals Label Studio's export.
- Label Studio stopped in the middle of a push and of a reconciliation: the task is put back for a retry with the
  reason (state RETRY, "Label Studio is not reachable at …"); once Label Studio is started again on the same data
  and port, the work completes, exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult

from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio
from testing.fake_anthropic.harness import WorkerPool, wait_until
from tests.resilience.conftest import db_state, export_state, ls_tasks_by_item, review_results, review_worker_env

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow, pytest.mark.services]

PUSH = "annotate.tasks.sample_push_task"
RECONCILE = "annotate.tasks.annotations_reconcile_sample"


@dataclass(frozen=True)
class ReviewLoop:
    """The session's Label Studio (its client and its server), and a client of the scenario's broker."""

    client: LabelStudio
    server: LocalLabelStudio
    sender: Celery
    broker_url: str
    worker_logs: Path

    @contextmanager
    def worker(self, *, batch_size: int = 1000, reconcile_chunk: int | None = None) -> Iterator[WorkerPool]:
        """One real worker (one thread) of the review loop, stopped on the way out."""
        extra = {"LABEL_STUDIO_RECONCILE_CHUNK": str(reconcile_chunk)} if reconcile_chunk else None
        env = review_worker_env(broker_url=self.broker_url, server=self.server, batch_size=batch_size, extra=extra)
        pool = WorkerPool(env=env, count=1, concurrency=1, log_dir=self.worker_logs).start()
        try:
            yield pool
        finally:
            pool.stop()

    def send(self, task: str, sample_id: int) -> AsyncResult:
        return self.sender.send_task(task, args=(sample_id,))


@pytest.fixture
def loop(
    requires_postgres: None,
    label_studio: LabelStudio,
    local_label_studio: LocalLabelStudio,
    broker_url: str,
    sender: Celery,
    worker_logs: Path,
) -> ReviewLoop:
    return ReviewLoop(label_studio, local_label_studio, sender, broker_url, worker_logs)


def sample_assigned(n_items: int, n_annotators: int) -> int:
    """A sample of ``n_items`` over a run written for the test, split among new annotators (one project each)."""
    from annotate import services
    from tests.annotate.factories import run_with_extractions

    run = run_with_extractions(n_items)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=n_items, seed=7)
    tag = uuid.uuid4().hex[:8]  # the session's Label Studio outlives each test's database: new people per test
    ids = [services.annotator_get_or_create(email=f"reviewer-{tag}-{i}@example.org").pk for i in range(n_annotators)]
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=ids, reviewers_per_item=1)
    return sample.pk


def mapped() -> int:
    from annotate.models import LabelStudioTask

    return LabelStudioTask.objects.exclude(label_studio_task_id=None).count()


def annotation_rows() -> int:
    from annotate.models import Annotation

    return Annotation.objects.count()


def assert_pushed_exactly_once(client: LabelStudio, sample_id: int, n_items: int) -> None:
    """Every item in Label Studio once, nothing else there, and our map of tasks equal to Label Studio's."""
    from annotate.models import LabelStudioProject

    total = 0
    for project in LabelStudioProject.objects.filter(sample_id=sample_id):
        by_item = ls_tasks_by_item(client, int(project.label_studio_project_id or 0))
        ours = dict(project.tasks.values_list("item_id", "label_studio_task_id"))
        assert {item: len(tasks) for item, tasks in by_item.items() if len(tasks) != 1} == {}, "an item twice"
        assert {item: tasks[0] for item, tasks in by_item.items()} == ours
        total += len(ours)
    assert total == n_items


def annotate_all(client: LabelStudio, sample_id: int) -> int:
    """One annotation on every task of the sample, made in Label Studio (four at a time); returns how many."""
    from annotate.models import LabelStudioTask

    task_ids = sorted(
        int(t or 0)
        for t in LabelStudioTask.objects.filter(project__sample_id=sample_id).values_list(
            "label_studio_task_id", flat=True
        )
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(lambda t: client.annotation_create(task_id=t[1], result=review_results(t[0])), enumerate(task_ids))
        )
    return len(task_ids)


def wait_state(result: AsyncResult, states: set[str], *, timeout_s: float) -> str:
    assert wait_until(lambda: result.state in states, timeout_s=timeout_s, interval_s=0.2), (
        f"task {result.id} still {result.state} after {timeout_s:.0f} s"
    )
    return str(result.state)


def fault_once_started(fault: Callable[[], None], named: str, progress: Callable[[], int], total: int) -> int:
    """Inject ``fault`` (``named`` in the message) as soon as the task has done part of its work; returns the
    progress just after it."""
    assert wait_until(lambda: progress() > 0, timeout_s=180, interval_s=0.05), "the task never started"
    fault()
    done = progress()
    assert done < total, f"the task finished before {named}: nothing was tested"
    return done


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_push_then_restarted_pushes_each_item_once(loop: ReviewLoop) -> None:
    n_items = 240
    sample_id = sample_assigned(n_items, 2)
    with loop.worker(batch_size=10) as pool:
        result = loop.send(PUSH, sample_id)
        at_kill = fault_once_started(lambda: pool.kill(0), "the kill", mapped, n_items)
        pool.restart(0)
        assert wait_state(result, {"SUCCESS", "FAILURE"}, timeout_s=180) == "SUCCESS", result.result
    report = result.result
    # The restarted push imported what was left and mapped what the killed one had imported unrecorded.
    assert report["pushed"] + report["recovered"] == n_items - at_kill
    assert report["recovered"] <= 10, "more than one batch was in flight at the kill"
    assert report["duplicates_in_label_studio"] == []
    assert_pushed_exactly_once(loop.client, sample_id, n_items)
    print(f"killed at {at_kill}/{n_items} mapped; then {report['pushed']} pushed, {report['recovered']} recovered")


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_reconciliation_then_restarted_matches_the_export(loop: ReviewLoop) -> None:
    from annotate import services

    n_items = 180
    sample_id = sample_assigned(n_items, 3)
    services.sample_push(sample_id=sample_id, client=loop.client)
    n_annotations = annotate_all(loop.client, sample_id)
    expected = export_state(loop.client, sample_id=sample_id)
    assert len(expected) == 2 * n_annotations
    with loop.worker(reconcile_chunk=10) as pool:
        result = loop.send(RECONCILE, sample_id)
        at_kill = fault_once_started(lambda: pool.kill(0), "the kill", annotation_rows, len(expected))
        pool.restart(0)
        assert wait_state(result, {"SUCCESS", "FAILURE"}, timeout_s=180) == "SUCCESS", result.result
    assert db_state() == expected, "the database differs from Label Studio's export"
    assert annotation_rows() == len(expected)
    assert result.result["created"] + result.result["unchanged"] == n_annotations
    print(f"killed at {at_kill}/{len(expected)} rows; the rerun created {result.result['created']}")


def _retried_with_reason(result: AsyncResult, server: LocalLabelStudio) -> str:
    """Wait for the task to be put back for a retry; return its reason (Label Studio restarted meanwhile)."""
    try:
        wait_state(result, {"RETRY"}, timeout_s=90)
        reason = str(result.result)
    finally:
        server.start()
    return reason


@pytest.mark.django_db(transaction=True)
def test_label_studio_stopped_mid_push_and_mid_reconciliation_then_the_work_completes_once(loop: ReviewLoop) -> None:
    n_items = 200
    sample_id = sample_assigned(n_items, 2)
    outcome: dict[str, Any] = {}
    try:
        with loop.worker(batch_size=5, reconcile_chunk=10):
            push = loop.send(PUSH, sample_id)
            outcome["push stopped at"] = fault_once_started(loop.server.stop, "Label Studio stopped", mapped, n_items)
            outcome["push retry"] = _retried_with_reason(push, loop.server)
            assert wait_state(push, {"SUCCESS", "FAILURE"}, timeout_s=240) == "SUCCESS", push.result
            assert_pushed_exactly_once(loop.client, sample_id, n_items)

            n_annotations = annotate_all(loop.client, sample_id)
            expected = export_state(loop.client, sample_id=sample_id)
            reconcile = loop.send(RECONCILE, sample_id)
            outcome["reconcile stopped at"] = fault_once_started(
                loop.server.stop, "Label Studio stopped", annotation_rows, len(expected)
            )
            outcome["reconcile retry"] = _retried_with_reason(reconcile, loop.server)
            assert wait_state(reconcile, {"SUCCESS", "FAILURE"}, timeout_s=240) == "SUCCESS", reconcile.result
    finally:
        if not loop.client.healthy(timeout_s=2):
            loop.server.start()
    for job in ("push", "reconcile"):
        assert f"Label Studio is not reachable at {loop.server.url}" in outcome[f"{job} retry"]
    assert db_state() == expected, "the database differs from Label Studio's export"
    assert annotation_rows() == len(expected) == 2 * n_annotations
    print(outcome)
