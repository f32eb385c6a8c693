"""Review samples drawn from an extraction run, annotators, and the assignment of items to annotators.

A sample stores its seed and every parameter, so drawing it again with the stored values gives the same
items in the same order; assignment is idempotent (a rerun with the same annotators creates nothing).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from django.db import transaction

from annotate import sampling
from annotate.label_studio import LabelStudio
from annotate.models import (
    Annotator,
    LabelStudioProject,
    LabelStudioTask,
    ReviewItem,
    ReviewSample,
    SampleStrategy,
)
from annotate.services.bulk import DB_CHUNK
from extraction.models import Extraction, ExtractionStatus, Feature
from stats.proportions import required_sample_size

STRATIFY_BY_MODEL = "model"


def _population(*, run_id: int, features: Sequence[str], stratify_by: str | None) -> pd.DataFrame:
    rows = list(
        Extraction.objects.filter(run_id=run_id, status=ExtractionStatus.OK, feature__in=features).values_list(
            "conversation_id", "feature", "labels", "confidence", "conversation__model"
        )
    )
    if not rows:
        raise ValueError(f"extraction run {run_id} has no parsed extractions for {list(features)}")
    frame = pd.DataFrame(rows, columns=["conversation_id", "feature", "labels", "confidence", "model"])
    population = frame.groupby("conversation_id").agg(confidence=("confidence", "min"), model=("model", "first"))
    if stratify_by == STRATIFY_BY_MODEL:
        population["stratum"] = population["model"].fillna("").replace("", "(unknown model)")
    elif stratify_by:
        of_feature = frame[frame["feature"] == stratify_by].set_index("conversation_id")["labels"]
        population["stratum"] = (
            of_feature.map(lambda labels: "|".join(sorted(labels)) if labels else "none")
            .reindex(population.index)
            .fillna("(no output)")
        )
    return population


_SELECTORS: dict[str, Callable[..., sampling.Selection]] = {
    SampleStrategy.RANDOM: sampling.select_random,
    SampleStrategy.STRATIFIED: sampling.select_stratified,
    SampleStrategy.UNCERTAINTY: sampling.select_uncertainty,
    SampleStrategy.FIND_ERRORS: sampling.select_find_errors,
    SampleStrategy.TARGET_WIDTH: sampling.select_random,
}
_DESIGN_OPTIONS: dict[str, set[str]] = {
    SampleStrategy.STRATIFIED: {"min_per_stratum"},
    SampleStrategy.UNCERTAINTY: {"floor"},
}


def _select(
    strategy: str, population: pd.DataFrame, *, size: int, seed: int, design: dict[str, Any]
) -> sampling.Selection:
    unknown = set(design) - _DESIGN_OPTIONS.get(strategy, set())
    if unknown:
        raise ValueError(f"design options {sorted(unknown)} do not apply to a {strategy} sample")
    return _SELECTORS[strategy](population, size=size, seed=seed, **design)


def review_sample_create(
    *,
    run_id: int,
    strategy: str,
    size: int,
    seed: int | None = None,
    stratify_by: str | None = None,
    features: Sequence[str] | None = None,
    reviewers_per_item: int = 1,
    name: str = "",
    extra_params: dict[str, Any] | None = None,
    target_half_width: float | None = None,
    expected_agreement: float = 0.95,
    confidence: float = 0.95,
    design: dict[str, Any] | None = None,
) -> ReviewSample:
    """Draw and store a review sample of ``size`` conversations from an extraction run.

    ``design``: options of the sampling design, ``{"min_per_stratum": k}`` for a disproportionate stratified
    sample, ``{"floor": f}`` for the uncertainty design (see ``annotate.sampling``). Every item stores its
    inclusion probability (none for ``find_errors``, which estimates nothing for the run).

    With ``strategy="target_width"`` the size is the planner's (``stats.proportions.required_sample_size``):
    the fewest items whose Wilson interval at ``expected_agreement`` has half-width at most
    ``target_half_width``; the items are then drawn at random and the planner's inputs recorded. The seed
    (drawn when not given) and every parameter are stored, so :func:`review_sample_create` with the stored
    values reproduces the same items in the same order.
    """
    if strategy == SampleStrategy.TARGET_WIDTH:
        if target_half_width is None:
            raise ValueError("a target_width sample needs target_half_width (e.g. 0.05 for ±5%)")
        size = required_sample_size(expected_agreement, target_half_width, confidence=confidence)
        extra_params = {
            **(extra_params or {}),
            "planner": {
                "target_half_width": target_half_width,
                "expected_agreement": expected_agreement,
                "confidence": confidence,
                "method": "wilson",
            },
        }
    if strategy not in _SELECTORS:
        raise ValueError(f"strategy {strategy!r} is not one of {sorted(_SELECTORS)}")
    features = list(features) if features else sorted(Feature.values)
    if strategy == SampleStrategy.STRATIFIED:
        if not stratify_by:
            raise ValueError("a stratified sample needs stratify_by: 'model' or a feature")
        if stratify_by != STRATIFY_BY_MODEL and stratify_by not in Feature.values:
            raise ValueError(f"stratify_by={stratify_by!r}: use 'model' or one of {sorted(Feature.values)}")
    seed = seed if seed is not None else secrets.randbits(32)
    population = _population(run_id=run_id, features=features, stratify_by=stratify_by)
    selection = _select(strategy, population, size=size, seed=seed, design=design or {})
    params = {
        "size": size,
        "features": features,
        "stratify_by": stratify_by,
        "population": len(population),
        "allocation": selection.allocation,
        "stratum_sizes": selection.stratum_sizes,
        **({"design": design} if design else {}),
        **(extra_params or {}),
    }
    with transaction.atomic():
        sample = ReviewSample.objects.create(
            run_id=run_id,
            name=name,
            strategy=strategy,
            seed=seed,
            params=params,
            reviewers_per_item=reviewers_per_item,
        )
        probabilities = selection.inclusion_probabilities or (None,) * len(selection.unit_ids)
        ReviewItem.objects.bulk_create(
            ReviewItem(sample=sample, conversation_id=cid, position=pos, stratum=stratum[:200], inclusion_probability=p)
            for pos, (cid, stratum, p) in enumerate(
                zip(selection.unit_ids, selection.strata, probabilities, strict=True)
            )
        )
    return sample


# -- annotators and assignment ------------------------------------------------------------------------------


def annotator_get_or_create(*, email: str) -> Annotator:
    annotator, _ = Annotator.objects.get_or_create(email=email.strip().lower())
    return annotator


def annotator_link_label_studio(*, annotator_id: int, password: str, client: LabelStudio) -> LabelStudio:
    """Make sure the annotator has a Label Studio account (signing up through the invite link if needed).

    Stores their Label Studio user id and returns a client acting as them. Their token is never stored.
    """
    annotator = Annotator.objects.get(pk=annotator_id)
    user = client.user_signup(email=annotator.email, password=password)
    if annotator.label_studio_user_id != user.user_id:
        annotator.label_studio_user_id = user.user_id
        annotator.save(update_fields=["label_studio_user_id"])
    return client.as_user(user.api_key)


def review_sample_assign(*, sample_id: int, annotator_ids: Sequence[int], reviewers_per_item: int) -> int:
    """Assign each item to ``reviewers_per_item`` distinct annotators, one Label Studio project each.

    Idempotent: assignments already made are kept (a rerun with the same annotators creates nothing).
    Returns the number of new assignments.
    """
    sample = ReviewSample.objects.get(pk=sample_id)
    annotators = list(Annotator.objects.filter(pk__in=annotator_ids).order_by("pk"))
    if len(annotators) != len(set(annotator_ids)):
        raise ValueError(f"unknown annotator id(s) among {list(annotator_ids)}")
    items = list(sample.items.order_by("position").values_list("pk", flat=True))
    plan = sampling.assign_reviewers(len(items), len(annotators), reviewers_per_item, sample.seed)
    with transaction.atomic():
        if sample.reviewers_per_item != reviewers_per_item:
            sample.reviewers_per_item = reviewers_per_item
            sample.save(update_fields=["reviewers_per_item"])
        projects = {}
        for annotator in annotators:
            project = LabelStudioProject.objects.filter(sample=sample, annotator=annotator).first()
            if project is None:
                label = sample.name or f"sample {sample.pk}"
                project = LabelStudioProject.objects.create(
                    sample=sample,
                    annotator=annotator,
                    # Label Studio allows 50 characters. The token makes the title unique on a shared server, so
                    # a project created just before a crash is found again by its title, not created twice.
                    title=f"{label[:18]} | {annotator.email.split('@')[0][:18]} | {uuid.uuid4().hex[:8]}",
                )
            projects[annotator.pk] = project
        rows = [
            LabelStudioTask(project=projects[annotators[a].pk], item_id=item_id)
            for item_id, chosen in zip(items, plan, strict=True)
            for a in chosen
        ]
        before = LabelStudioTask.objects.filter(project__sample=sample).count()
        LabelStudioTask.objects.bulk_create(rows, ignore_conflicts=True, batch_size=DB_CHUNK)
        return LabelStudioTask.objects.filter(project__sample=sample).count() - before
