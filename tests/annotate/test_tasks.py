"""Webhook processing through a real Celery worker on a Redis broker (not eager)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.test import Client

from annotate import services
from annotate.labeling_config import FeatureReview, review_result
from annotate.models import Annotation, EventStatus, LabelStudioProject, LabelStudioTask, WebhookEvent
from annotate.webhook_auth import project_secret
from config.celery import app
from tests.annotate.factories import run_with_extractions
from tests.conftest import celery_conf, missing_service

pytestmark = pytest.mark.services


@pytest.fixture
def worker() -> Iterator[None]:
    broker = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis broker not reachable at {broker}: {exc}")
    redis.Redis.from_url(broker).flushdb()
    with (
        celery_conf(app, broker_url=broker, result_backend=broker, task_always_eager=False),
        start_worker(app, perform_ping_check=False, shutdown_timeout=30),
    ):
        yield


@pytest.mark.django_db(transaction=True)
def test_webhook_is_stored_at_once_and_processed_by_a_worker(worker: None, settings: Any) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    run = run_with_extractions(2)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=1)
    annotator = services.annotator_get_or_create(email="reviewer-ada@example.org")
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)
    LabelStudioProject.objects.update(label_studio_project_id=3)
    LabelStudioTask.objects.filter(item__position=0).update(label_studio_task_id=700)
    review = FeatureReview(feature="ai_values", verdict="correct", labels=["honesty"])
    body = {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": 70, "task": 700, "result": review_result(review), "updated_at": "2026-01-01T00:00:00Z"},
    }
    answer = Client().post(
        "/api/annotate/webhooks/label-studio/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-Webhook-Secret": project_secret(secret="s", project_id=3)},
    )
    assert answer.status_code == 200
    deadline = time.monotonic() + 30
    while WebhookEvent.objects.get().status == EventStatus.RECEIVED and time.monotonic() < deadline:
        time.sleep(0.2)
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED
    assert list(Annotation.objects.values_list("feature", "verdict", "corrected_labels")) == [
        ("ai_values", "correct", ["honesty"])
    ]


def _reviews_pushed(count: int) -> list[bytes]:
    """``count`` tasks of Label Studio project 3 stored as pushed, and one ANNOTATION_CREATED body for each."""
    run = run_with_extractions(count)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=count, seed=1)
    annotator = services.annotator_get_or_create(email="reviewer-ada@example.org")
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)
    LabelStudioProject.objects.update(label_studio_project_id=3)
    bodies = []
    for n, task in enumerate(LabelStudioTask.objects.order_by("pk")):
        LabelStudioTask.objects.filter(pk=task.pk).update(label_studio_task_id=800 + n)
        result = review_result(FeatureReview(feature="ai_values", verdict="correct", labels=["honesty"]))
        annotation = {"id": 80 + n, "task": 800 + n, "result": result, "updated_at": "2026-01-01T00:00:00Z"}
        bodies.append(json.dumps({"action": "ANNOTATION_CREATED", "annotation": annotation}).encode())
    return bodies


def _post(body: bytes) -> Any:
    return Client().post(
        "/api/annotate/webhooks/label-studio/",
        data=body,
        content_type="application/json",
        headers={"X-Webhook-Secret": project_secret(secret="s", project_id=3)},
    )


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_calls_queues_one_drain_which_applies_them_all(queue_without_workers: str, settings: Any) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    settings.REPORTS_WARM = False  # the queue holds the drains only (intake would also queue report warm-ups)
    queue = redis.Redis.from_url(queue_without_workers)
    bodies = _reviews_pushed(6)
    assert [_post(body).status_code for body in bodies[:5]] == [200] * 5
    assert queue.llen("celery") == 1  # one drain queued for the five calls, not a task per call
    assert WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count() == 5

    report = services.webhook_events_drain()  # what the queued drain runs
    assert WebhookEvent.objects.filter(status=EventStatus.PROCESSED).count() == 5
    assert report.created == 5
    # The drain cleared its mark when it started: the next call queues a drain of its own.
    assert _post(bodies[5]).status_code == 200
    assert queue.llen("celery") == 2
    services.webhook_events_drain()
    assert Annotation.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_a_call_while_the_broker_is_down_is_stored_answered_and_applied_by_the_periodic_drain(
    settings: Any,
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    bodies = _reviews_pushed(1)
    with celery_conf(app, broker_url="redis://127.0.0.1:9/0", task_always_eager=False, broker_connection_timeout=1):
        answer = _post(bodies[0])
    assert answer.status_code == 200, answer.content
    assert WebhookEvent.objects.get().status == EventStatus.RECEIVED

    services.webhook_events_drain()  # the periodic drain (CELERY_BEAT_SCHEDULE["annotate-webhook-drain"])
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED
    assert Annotation.objects.count() == 1
