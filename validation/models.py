"""Saved validation reports, trust targets, and gold sets.

A snapshot freezes one computed report (its JSON payload and the parameters it was computed with). An
agreement snapshot belongs to an extraction run; a comparison snapshot names its baseline and candidate
prompt versions (the first of each pair when whole prompt sets were compared).

A gold set is a versioned table of reference labels per conversation and feature (from the reviews, or
imported), against which any prompt version's run is scored. Once frozen it never changes: the model refuses
to save, update or delete a frozen set or its labels (``GoldSetFrozenError``), whatever path the write takes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class SnapshotKind(models.TextChoices):
    AGREEMENT = "agreement", "Agreement report"
    COMPARISON = "comparison", "Prompt comparison"


class ReportSnapshot(models.Model):
    kind = models.CharField(max_length=16, choices=SnapshotKind.choices)
    run = models.ForeignKey(
        "extraction.ExtractionRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="validation_snapshots",
    )
    baseline = models.CharField(max_length=300, blank=True, help_text="Comparison: the baseline prompt spec.")
    candidate = models.CharField(max_length=300, blank=True, help_text="Comparison: the candidate prompt spec.")
    params = models.JSONField(default=dict, help_text="confidence, n_boot, seed, target half-width, ...")
    payload = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "run", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="agreement", run__isnull=False)
                    | (models.Q(kind="comparison") & ~models.Q(baseline="") & ~models.Q(candidate=""))
                ),
                name="reportsnapshot_kind_has_subject",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == SnapshotKind.AGREEMENT:
            subject = f"run {self.run_id}"
        else:
            subject = f"{self.baseline} vs {self.candidate}"
        return f"{self.get_kind_display()} of {subject} at {self.created_at:%Y-%m-%d %H:%M}"


class TrustTarget(models.Model):
    """What a lead asks of a feature's agreement before its labels are trusted, e.g. "≥ 95% ± 5%".

    A row with no run is the project default for the feature; a row with a run overrides it for that run.
    The verdict itself is computed from the reviews (``validation.trust``), never stored."""

    feature = models.CharField(max_length=32)
    run = models.ForeignKey(
        "extraction.ExtractionRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="trust_targets",
        help_text="Empty: the project default for the feature.",
    )
    share = models.FloatField(help_text="Target share judged correct, 0-1 (0.95 for ≥ 95%).")
    half_width = models.FloatField(help_text="Largest acceptable interval half-width, 0-0.5 (0.05 for ± 5%).")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["feature", "run_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature"], condition=models.Q(run__isnull=True), name="trusttarget_one_default_per_feature"
            ),
            models.UniqueConstraint(
                fields=["feature", "run"], condition=models.Q(run__isnull=False), name="trusttarget_one_per_run"
            ),
            models.CheckConstraint(condition=models.Q(share__gt=0, share__lte=1), name="trusttarget_share_in_0_1"),
            models.CheckConstraint(
                condition=models.Q(half_width__gt=0, half_width__lte=0.5), name="trusttarget_half_width_in_0_half"
            ),
        ]

    def __str__(self) -> str:
        scope = f"run {self.run_id}" if self.run_id else "project default"
        return f"{self.feature}: ≥ {100 * self.share:.1f}% ± {100 * self.half_width:.1f}% ({scope})"


class GoldSetFrozenError(RuntimeError):
    """A write to a frozen gold set or to one of its labels."""


class GoldSetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FROZEN = "frozen", "Frozen"


class GoldSetOrigin(models.TextChoices):
    REVIEWS = "reviews", "From the reviews of a run"
    IMPORTED = "imported", "Imported ground truth"


class GoldLabelSource(models.TextChoices):
    ADJUDICATED = "adjudicated", "Adjudicated by a lead"
    MAJORITY = "majority", "Strict majority of reviewers"
    IMPORTED = "imported", "Imported"


def _frozen(gold_set_id: int | None) -> bool:
    """Whether the stored gold set is frozen (what the database holds, not the instance in hand)."""
    return gold_set_id is not None and GoldSet.objects.filter(pk=gold_set_id, status=GoldSetStatus.FROZEN).exists()


class GoldSetQuerySet(models.QuerySet["GoldSet"]):
    def update(self, **kwargs: object) -> int:
        if self.filter(status=GoldSetStatus.FROZEN).exists():
            raise GoldSetFrozenError("a frozen gold set never changes; make a new version instead")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(status=GoldSetStatus.FROZEN).exists():
            raise GoldSetFrozenError("a frozen gold set cannot be deleted")
        return super().delete()


class GoldSet(models.Model):
    """One version of a named gold set. ``params`` records how it was made: the rule, the features, and per
    feature how many (conversation, feature) pairs were taken and how many left out (no strict majority)."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=GoldSetStatus.choices, default=GoldSetStatus.DRAFT)
    origin = models.CharField(max_length=10, choices=GoldSetOrigin.choices)
    dataset = models.ForeignKey("corpus.Dataset", on_delete=models.PROTECT, related_name="gold_sets")
    run = models.ForeignKey(
        "extraction.ExtractionRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gold_sets",
        help_text="The reviewed run the labels came from, if any.",
    )
    description = models.TextField(blank=True)
    params = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True)

    objects = GoldSetQuerySet.as_manager()

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="goldset_unique_version"),
            models.CheckConstraint(
                condition=models.Q(status="draft", frozen_at__isnull=True)
                | models.Q(status="frozen", frozen_at__isnull=False),
                name="goldset_frozen_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def save(self, *args: object, **kwargs: object) -> None:
        # Integrity, not business logic: whichever code path writes, a frozen set stays as it was.
        if _frozen(self.pk):
            raise GoldSetFrozenError(f"gold set {self} is frozen; make a new version instead")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        if _frozen(self.pk):
            raise GoldSetFrozenError(f"gold set {self} is frozen and cannot be deleted")
        return super().delete(*args, **kwargs)  # type: ignore[arg-type]


class GoldLabelQuerySet(models.QuerySet["GoldLabel"]):
    def _touches_frozen(self) -> bool:
        return self.filter(gold_set__status=GoldSetStatus.FROZEN).exists()

    def update(self, **kwargs: object) -> int:
        if self._touches_frozen():
            raise GoldSetFrozenError("labels of a frozen gold set never change")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self._touches_frozen():
            raise GoldSetFrozenError("labels of a frozen gold set cannot be deleted")
        return super().delete()

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        objs = list(objs)
        ids = {o.gold_set_id for o in objs}
        if GoldSet.objects.filter(pk__in=ids, status=GoldSetStatus.FROZEN).exists():
            raise GoldSetFrozenError("labels cannot be added to a frozen gold set")
        return super().bulk_create(objs, *args, **kwargs)


class GoldLabel(models.Model):
    """The reference labels of one conversation and feature in a gold set, and where they came from.

    ``labels`` is the normalised label list (empty for "none"); ``level`` the subjectivity level 1-4 when known."""

    gold_set = models.ForeignKey(GoldSet, on_delete=models.CASCADE, related_name="labels")
    conversation = models.ForeignKey("corpus.Conversation", on_delete=models.PROTECT, related_name="gold_labels")
    feature = models.CharField(max_length=32)
    labels = models.JSONField(default=list)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=GoldLabelSource.choices)
    n_reviews = models.PositiveSmallIntegerField(default=0, help_text="Reviewers behind a majority or adjudication.")

    objects = GoldLabelQuerySet.as_manager()

    class Meta:
        ordering = ["gold_set", "conversation_id", "feature"]
        constraints = [
            models.UniqueConstraint(fields=["gold_set", "conversation", "feature"], name="goldlabel_unique_item"),
            models.CheckConstraint(
                condition=models.Q(level__isnull=True) | models.Q(level__gte=1, level__lte=4),
                name="goldlabel_level_1_4",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feature} of {self.conversation_id} in gold set {self.gold_set_id}: {self.labels}"

    def save(self, *args: object, **kwargs: object) -> None:
        if _frozen(self.gold_set_id):
            raise GoldSetFrozenError("labels of a frozen gold set never change")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        if _frozen(self.gold_set_id):
            raise GoldSetFrozenError("labels of a frozen gold set cannot be deleted")
        return super().delete(*args, **kwargs)  # type: ignore[arg-type]
