"""Reads of the review loop: annotations as a DataFrame for the validation statistics, sample progress."""

from __future__ import annotations

import pandas as pd
from django.db.models import Count, Q, QuerySet

from annotate.models import Annotation, LabelStudioProject, ReviewSample

ANNOTATION_COLUMNS = [
    "item_id",
    "conversation_id",
    "feature",
    "annotator",
    "extraction_id",
    "model_labels",
    "verdict",
    "reasoning_check",
    "corrected_labels",
    "subjectivity_level",
    "comment",
    "lead_time_s",
]


def annotations_frame(*, sample_id: int, include_deleted: bool = False) -> pd.DataFrame:
    """One row per item x feature x annotator (the reviewer's latest judgement), identities kept."""
    rows = Annotation.objects.filter(item__sample_id=sample_id)
    if not include_deleted:
        rows = rows.filter(deleted=False)
    data = rows.order_by("item__position", "feature", "annotator__email").values_list(
        "item_id",
        "item__conversation_id",
        "feature",
        "annotator__email",
        "extraction_id",
        "extraction__labels",
        "verdict",
        "reasoning_check",
        "corrected_labels",
        "subjectivity_level",
        "comment",
        "lead_time_s",
    )
    return pd.DataFrame(list(data), columns=ANNOTATION_COLUMNS)


def sample_list() -> QuerySet[ReviewSample]:
    return ReviewSample.objects.annotate(
        item_count=Count("items", distinct=True),
        annotation_count=Count("items__annotations", filter=Q(items__annotations__deleted=False), distinct=True),
    ).order_by("-created_at")


def sample_projects(*, sample_id: int) -> QuerySet[LabelStudioProject]:
    return (
        LabelStudioProject.objects.filter(sample_id=sample_id)
        .select_related("annotator")
        .annotate(
            task_count=Count("tasks", distinct=True),
            pushed_count=Count("tasks", filter=Q(tasks__label_studio_task_id__isnull=False), distinct=True),
        )
        .order_by("pk")
    )
