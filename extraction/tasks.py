"""Celery tasks of the extraction app: thin, take ids, idempotent (see extraction.services)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from extraction.models import ExtractionRun, RunStatus
from extraction.ratelimit import RateLimiterUnavailableError


@shared_task(
    name="extraction.process_conversation",
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, RateLimiterUnavailableError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def extraction_conversation_process(self, run_id: int, conversation_id: int) -> dict[str, int] | None:  # type: ignore[no-untyped-def]
    """Extract the pending features of one conversation for a run (a redelivered task skips what is done).

    The LLM client retries rate limits and overloads itself; here only database hiccups and a rate limiter
    whose Redis stayed away are retried.
    """
    from extraction.services import conversation_extract

    outcome = conversation_extract(run_id=run_id, conversation_id=conversation_id)
    if outcome is None:
        return None
    return {"stored": outcome.stored, "skipped": outcome.skipped, "failed": outcome.failed}


@shared_task(name="extraction.batch_step", acks_late=True)
def extraction_batch_step(run_id: int) -> str:
    """Advance a batch run by one step and schedule the next poll until nothing is pending."""
    from extraction.llm import MessageBatches
    from extraction.services import run_batch_step

    run = ExtractionRun.objects.filter(pk=run_id).first()
    if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
        return "gone"
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker to come back later: poll here until the run is done.
        from extraction.services import run_batch_execute

        run_batch_execute(
            run=run, batches=MessageBatches.from_settings(), poll_interval_s=settings.EXTRACTION_BATCH_POLL_S
        )
        return "done"
    step = run_batch_step(run=run, batches=MessageBatches.from_settings())
    if step.action != "done":
        countdown = settings.EXTRACTION_BATCH_POLL_S if step.action == "waiting" else 0
        extraction_batch_step.apply_async((run_id,), countdown=countdown)
    return step.action


@shared_task(name="extraction.watch_run", acks_late=True)
def extraction_run_watch(run_id: int) -> str:
    """Recount a queued run's progress every few seconds until it has finished (sets its final status)."""
    from extraction.services import run_refresh_progress

    run = ExtractionRun.objects.filter(pk=run_id).first()
    if run is None:
        return "gone"
    run_refresh_progress(run=run)
    run.refresh_from_db()
    if run.status == RunStatus.RUNNING and not settings.CELERY_TASK_ALWAYS_EAGER:
        extraction_run_watch.apply_async((run_id,), countdown=settings.EXTRACTION_WATCH_INTERVAL_S)
    return str(run.status)
