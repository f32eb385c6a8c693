"""Celery tasks of the analysis app: thin, take ids, idempotent."""

from __future__ import annotations

# ==================================================================================================== taxonomy
from typing import Any

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import OperationalError

from analysis.models import Taxonomy
from analysis.selectors import extracted_value_counts
from analysis.services import residual_analysis_create, taxonomy_build, taxonomy_map_values
from analysis.taxonomy import TaxonomyError, TaxonomyParams


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def taxonomy_build_task(
    *,
    build_key: str,
    name: str,
    feature: str,
    dataset_id: int | None,
    params: dict[str, Any],
    stability_seed: int | None,
    user_id: int | None,
) -> int:
    """Build a taxonomy from the parsed extractions of ``feature``; a rerun with the same key does nothing."""
    done = Taxonomy.objects.filter(build_key=build_key).values_list("pk", flat=True).first()
    if done is not None:
        return done
    values = list(extracted_value_counts(feature=feature, dataset_id=dataset_id))
    if not values:
        raise TaxonomyError(f"no parsed {feature} extractions to build a taxonomy from")
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    sizes = params.get("level_sizes")
    taxonomy = taxonomy_build(
        values=values,
        name=name,
        feature=feature,
        params=TaxonomyParams(**{**params, "level_sizes": tuple(sizes) if sizes else None}),
        stability_seed=stability_seed,
        user=user,
        build_key=build_key,
    )
    return taxonomy.pk


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


# ================================================================================================ end taxonomy


# =========================================================================================== residuals & descriptive


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def residual_analysis_task(*, request_key: str, params: dict[str, Any], user_id: int | None) -> int:
    """Run and store one residual analysis; a rerun with the same key returns the stored one."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return residual_analysis_create(**params, user=user, request_key=request_key).pk


# ======================================================================================= end residuals & descriptive
