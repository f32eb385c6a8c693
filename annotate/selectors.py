"""Reads of the review loop: annotations as a DataFrame for the validation statistics, sample progress."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from django.db.models import Count, Q, QuerySet

from annotate.models import Annotation, LabelStudioProject, ProjectStatus, ReviewSample

NOT_INDEPENDENT = "reviews not independent"

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


@dataclass(frozen=True)
class Independence:
    """Whether Label Studio kept the reviewers of a sample (or run) apart, and which projects it did not."""

    independent: bool
    not_independent: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """One line for a sample's status and an agreement report."""
        if not self.independent:
            return (
                f"{NOT_INDEPENDENT}: {len(self.not_independent)} Label Studio project(s) can be opened by every "
                "reviewer (a Label Studio the app does not manage): " + ", ".join(self.not_independent)
            )
        return "blind: each reviewer works in a Label Studio organization of their own"

    def as_dict(self) -> dict[str, object]:
        return {
            "independent": self.independent,
            "status": self.status,
            "not_independent_projects": self.not_independent,
            "drifted_projects": self.drifted,
        }


def _independence(projects: QuerySet[LabelStudioProject]) -> Independence:
    rows = list(projects.exclude(label_studio_project_id=None).values_list("title", "independent", "status"))
    return Independence(
        independent=all(independent for _, independent, _ in rows),
        not_independent=sorted(title for title, independent, _ in rows if not independent),
        drifted=sorted(title for title, _, status in rows if status == ProjectStatus.DRIFTED),
    )


def sample_independence(*, sample_id: int) -> Independence:
    """Independence of a sample's reviews (pushed projects only)."""
    return _independence(LabelStudioProject.objects.filter(sample_id=sample_id))


def run_independence(*, run_id: int) -> Independence:
    """Independence of the reviews of every sample drawn from an extraction run (for its agreement report)."""
    return _independence(LabelStudioProject.objects.filter(sample__run_id=run_id))
