"""Celery tasks of the review loop: thin, take ids, idempotent, retry only when Label Studio is unreachable."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import Task, shared_task

from annotate import services
from annotate.label_studio import LabelStudioUnavailableError
from jobs.services import job_tracking

RETRY = {
    "autoretry_for": (LabelStudioUnavailableError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(bind=True, **RETRY)
def sample_push_task(self: Task, sample_id: int, job_id: int | None = None) -> dict[str, Any]:
    """The push, blind set-up included; a result names new reviewer accounts, never their passwords (a lead
    hands one over with ``manage.py reviewer_login EMAIL``). ``job_id``: the API's job (jobs app), done or failed with
    the push."""
    with job_tracking(job_id=job_id, task=self) as tracking:
        report = services.sample_push(sample_id=sample_id)
        tracking.result = {**asdict(report), "new_logins": sorted(report.new_logins)}
    return dict(tracking.result)


@shared_task
def webhook_events_drain_task() -> dict[str, Any]:
    """Apply every received webhook event: queued by the webhook (one per burst of calls) and periodically."""
    return asdict(services.webhook_events_drain())


@shared_task
def webhook_event_process_task(event_id: int) -> dict[str, Any]:
    """One event (what earlier versions queued per call: kept so that messages already queued are applied)."""
    return asdict(services.webhook_event_process(event_id=event_id))


@shared_task(bind=True, **RETRY)
def annotations_reconcile_sample(self: Task, sample_id: int, job_id: int | None = None) -> dict[str, Any]:
    with job_tracking(job_id=job_id, task=self) as tracking:
        tracking.result = asdict(services.annotations_reconcile(sample_id=sample_id))
    return dict(tracking.result)


@shared_task(**RETRY)
def annotations_reconcile_all() -> dict[str, Any]:
    """The periodic safety net (CELERY_BEAT_SCHEDULE): catches whatever a webhook missed."""
    return asdict(services.annotations_reconcile())
