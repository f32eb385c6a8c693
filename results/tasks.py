"""Celery tasks of the results app: thin, take ids, idempotent."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from jobs.services import job_tracking
from results.requests import ResidualRequest
from results.services import residual_analysis_create


@shared_task(bind=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def residual_analysis_task(
    self: Task, *, request_key: str, params: dict[str, Any], user_id: int | None, job_id: int | None = None
) -> int:
    """Run and store one residual analysis (``params``: a ``ResidualRequest`` as a dict); a rerun with the same key
    returns the stored one. ``job_id``: the API's job, done or failed with the analysis."""
    with job_tracking(job_id=job_id, task=self) as tracking:
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        request = ResidualRequest.from_dict(params)
        pk = residual_analysis_create(request=request, user=user, request_key=request_key).pk
        tracking.result = {"analysis": pk}
    return pk
