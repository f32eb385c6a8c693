"""Celery tasks of the taxonomy app: thin, take ids, idempotent."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from jobs.services import job_tracking
from taxonomy.models import Taxonomy
from taxonomy.requests import TaxonomyBuildRequest
from taxonomy.selectors import extracted_value_counts
from taxonomy.services import taxonomy_build_from_request, taxonomy_map_values


@shared_task(bind=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def taxonomy_build_task(
    self: Task, *, build_key: str, request: dict[str, Any], user_id: int | None, job_id: int | None = None
) -> int:
    """Build the taxonomy ``request`` (a ``TaxonomyBuildRequest`` as a dict) asks for, from the parsed extractions;
    a rerun with the same key does nothing. ``job_id``: the API's job, done or failed with the build."""
    with job_tracking(job_id=job_id, task=self) as tracking:
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        build = TaxonomyBuildRequest.from_dict(request)
        pk = taxonomy_build_from_request(request=build, user=user, build_key=build_key).pk
        tracking.result = {"taxonomy": pk}
    return pk


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def taxonomy_map_task(
    *, taxonomy_id: int, feature: str, dataset_id: int | None, threshold: float | None
) -> dict[str, int]:
    """Map the extracted values of ``feature`` onto a taxonomy; rerunning replaces the same mappings."""
    taxonomy = Taxonomy.objects.filter(pk=taxonomy_id).first()
    if taxonomy is None:
        return {}
    values = list(extracted_value_counts(feature=feature, dataset_id=dataset_id))
    return taxonomy_map_values(taxonomy=taxonomy, values=values, threshold=threshold).counts()
