"""Review samples, the items in them, the people who review, and their annotations.

An annotation row is one annotator's judgement of one machine output (an ``Extraction``): the
verdict (correct or not, per the paper's protocol), corrected labels and a comment. A Label Studio
annotation covers every feature of a conversation, so it yields one row per feature; the pair
(Label Studio annotation id, feature) is unique, which makes intake idempotent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SampleStrategy(models.TextChoices):
    RANDOM = "random", "Simple random"
    STRATIFIED = "stratified", "Stratified"
    UNCERTAINTY = "uncertainty", "Uncertainty first"
    TARGET_WIDTH = "target_width", "Sized for a target interval width"


class ReviewSample(models.Model):
    run = models.ForeignKey("extraction.ExtractionRun", on_delete=models.CASCADE, related_name="review_samples")
    name = models.CharField(max_length=200, blank=True)
    strategy = models.CharField(max_length=20, choices=SampleStrategy.choices)
    seed = models.BigIntegerField()
    params = models.JSONField(default=dict, help_text="size, stratify_by, target half-width, ...")
    reviewers_per_item = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sample {self.pk} of run {self.run_id} ({self.strategy}, seed {self.seed})"


class ReviewItem(models.Model):
    """One conversation in a review sample (all its extracted features are reviewed together)."""

    sample = models.ForeignKey(ReviewSample, on_delete=models.CASCADE, related_name="items")
    conversation = models.ForeignKey("corpus.Conversation", on_delete=models.CASCADE, related_name="review_items")
    position = models.PositiveIntegerField()
    stratum = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "conversation"], name="reviewitem_unique_conversation"),
        ]
        ordering = ["sample", "position"]

    def __str__(self) -> str:
        return f"item {self.position} of sample {self.sample_id}"


class Annotator(models.Model):
    """A reviewer, kept with their identity for inter-rater reliability."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotator"
    )
    email = models.EmailField(unique=True)
    label_studio_user_id = models.IntegerField(null=True, blank=True, unique=True)

    def __str__(self) -> str:
        return self.email


class Verdict(models.TextChoices):
    CORRECT = "correct", "Correct"
    INCORRECT = "incorrect", "Incorrect"


class Annotation(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="annotations")
    extraction = models.ForeignKey("extraction.Extraction", on_delete=models.CASCADE, related_name="annotations")
    feature = models.CharField(max_length=32)
    annotator = models.ForeignKey(Annotator, on_delete=models.PROTECT, related_name="annotations")
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    corrected_labels = models.JSONField(null=True, blank=True, help_text="The reviewer's labels, when corrected.")
    comment = models.TextField(blank=True)
    lead_time_s = models.FloatField(null=True, blank=True, help_text="Time spent, from Label Studio.")
    label_studio_annotation_id = models.BigIntegerField()
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["label_studio_annotation_id", "feature"], name="annotation_unique_ls_feature"
            ),
        ]
        indexes = [models.Index(fields=["feature", "annotator"])]

    def __str__(self) -> str:
        return f"{self.feature} of item {self.item_id} by {self.annotator_id}: {self.verdict or 'no verdict'}"
