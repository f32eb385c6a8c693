"""Start queued work once: a request identical to a pending or running job gets that job, not a second one.

``job_start_once`` inserts the job under the database's partial unique index (``jobs.models``) and queues it after
the insert has committed; an identical request that arrives meanwhile, even at the same instant on another
connection, fails on the index and is answered with the job already there. ``job_tracking`` is what a task wraps its
work in: running on entry, done with the result or failed with the reason on exit, so the key is free again once the
work is over; when the task will retry the error (Celery's ``autoretry_for``, retries left) the job is retrying, with
the reason, and stays active until a later attempt ends it. A job left active longer than ``JOBS_STALE_AFTER_S`` (its
worker and its redelivery both lost) is marked failed by the next identical request, which then starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from celery.exceptions import Ignore, Retry
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.models import ACTIVE, Job, JobStatus

if TYPE_CHECKING:
    from celery import Task

#: Attempts at inserting or finding the active job (the one found may finish between the insert and the read).
ATTEMPTS = 5


def request_key(*, kind: str, params: dict[str, Any]) -> str:
    """SHA-256 of the kind and the parameters as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps({"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _expire_stale(*, kind: str, key: str) -> None:
    cutoff = timezone.now() - timedelta(seconds=settings.JOBS_STALE_AFTER_S)
    Job.objects.filter(kind=kind, key=key, status__in=ACTIVE, created_at__lt=cutoff).update(
        status=JobStatus.FAILED, error="abandoned: no worker finished it in time", finished_at=timezone.now()
    )


def job_start_once(
    *, kind: str, params: dict[str, Any], user: Any, enqueue: Callable[[Job], str | None]
) -> tuple[Job, bool]:
    """The active job for this request, or a new one queued by ``enqueue`` (which returns the task id).

    Returns ``(job, created)``. When ``enqueue`` raises (the broker is down), the new job is marked failed and the
    error propagates, so the caller can answer 503 and a retry starts afresh."""
    key = request_key(kind=kind, params=params)
    _expire_stale(kind=kind, key=key)
    for _ in range(ATTEMPTS):
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    kind=kind,
                    key=key,
                    ref=uuid.uuid4().hex,
                    params=params,
                    created_by=user if getattr(user, "pk", None) else None,
                )
        except IntegrityError:
            existing = Job.objects.filter(kind=kind, key=key, status__in=ACTIVE).first()
            if existing is not None:
                return existing, False
            continue  # it finished between the insert and the read: try the insert again
        break
    else:  # pragma: no cover - five identical jobs finishing within as many round trips
        raise RuntimeError(f"could not start or find the {kind} job {key}")
    try:
        task_id = enqueue(job)
    except Exception as exc:
        job_finish(job_id=job.pk, error=f"could not be queued: {exc}")
        raise
    Job.objects.filter(pk=job.pk).update(task_id=task_id or "")
    job.refresh_from_db()
    return job, True


def job_finish(*, job_id: int, result: Any = None, error: str = "") -> None:
    """Done with ``result``, or failed with ``error``; a job already finished is left as it is."""
    Job.objects.filter(pk=job_id, status__in=ACTIVE).update(
        status=JobStatus.FAILED if error else JobStatus.DONE, result=result, error=error, finished_at=timezone.now()
    )


def job_retrying(*, job_id: int, error: str) -> None:
    """Failed with ``error`` but queued again by its task's retry: still active, so an identical request gets it."""
    Job.objects.filter(pk=job_id, status__in=ACTIVE).update(status=JobStatus.RETRYING, error=error)


def _retried(task: Task | None, exc: BaseException) -> tuple[int, int | None] | None:
    """(the attempt coming, the retries allowed) when Celery's autoretry will queue ``task`` again after ``exc``,
    else None: the rule of ``celery.app.autoretry`` and ``Task.retry`` (a retryable error, not excluded, retries
    left, the task run by a worker or ``apply`` rather than called as a function)."""
    if task is None:
        return None
    retryable = tuple(getattr(task, "autoretry_for", ()))
    excluded = (Ignore, Retry, *tuple(getattr(task, "dont_autoretry_for", ())))
    if not retryable or not isinstance(exc, retryable) or isinstance(exc, excluded):
        return None
    request = task.request
    if request.called_directly or (task.max_retries is not None and request.retries >= task.max_retries):
        return None
    return request.retries + 1, task.max_retries


@dataclass
class Tracking:
    """What a task reports back: ``result`` (JSON) is stored on the job when the work ends without an error."""

    job_id: int | None
    result: Any = field(default=None)


@contextmanager
def job_tracking(*, job_id: int | None, task: Task | None = None) -> Iterator[Tracking]:
    """Mark the job running for the work in the ``with`` block, then done (with ``tracking.result``) or failed; or
    retrying when ``task`` (the bound task running the work) will be retried for the error.

    ``job_id`` None (work started by a command or the periodic schedule) tracks nothing."""
    tracking = Tracking(job_id=job_id)
    if job_id is not None:
        Job.objects.filter(pk=job_id, status__in=ACTIVE).update(status=JobStatus.RUNNING, started_at=timezone.now())
    try:
        yield tracking
    except BaseException as exc:
        if job_id is not None:
            reason = f"{type(exc).__name__}: {exc}"[:2000] or "failed"
            retry = _retried(task, exc)
            if retry is None:
                job_finish(job_id=job_id, error=reason)
            else:
                attempt, allowed = retry
                of = f" of {allowed}" if allowed is not None else ""
                job_retrying(job_id=job_id, error=f"retry {attempt}{of} queued after {reason}"[:2000])
        raise
    if job_id is not None:
        job_finish(job_id=job_id, result=tracking.result)
