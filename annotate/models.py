"""Review samples, the items in them, the people who review, and their annotations.

An annotation row is one annotator's judgement of one machine output (an ``Extraction``): the
verdict (correct or not, per the paper's protocol), corrected labels and a comment. A Label Studio
annotation covers every feature of a conversation, so it yields one row per feature; the pair
(Label Studio annotation id, feature) is unique, which makes intake idempotent. A review that contradicts
itself carries a ``ReviewFlag`` per rule it breaks; a lead's ``Adjudication`` settles one machine output.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SampleStrategy(models.TextChoices):
    RANDOM = "random", "Simple random"
    STRATIFIED = "stratified", "Stratified"
    UNCERTAINTY = "uncertainty", "Uncertainty-weighted (Poisson, known probabilities)"
    FIND_ERRORS = "find_errors", "Find errors (least confident first; no figure for the run)"
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
    inclusion_probability = models.FloatField(
        null=True,
        blank=True,
        help_text="The chance the sampling design gave this conversation to be drawn; empty for find-errors samples.",
    )

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
    label_studio_organization_id = models.IntegerField(
        null=True, blank=True, help_text="The reviewer's own Label Studio organization (blind review)."
    )
    label_studio_token = models.CharField(
        max_length=128, blank=True, help_text="The token the app acts with in the reviewer's organization."
    )

    def __str__(self) -> str:
        return self.email


class Verdict(models.TextChoices):
    CORRECT = "correct", "Correct"
    INCORRECT = "incorrect", "Incorrect"


class ReasoningCheck(models.TextChoices):
    """The paper's second question: does the chain of thought make sense, or does it over- or under-infer?"""

    SOUND = "sound", "Sound"
    OVER_INFERRING = "over_inferring", "Over-inferring"
    UNDER_INFERRING = "under_inferring", "Under-inferring"


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
    task = models.ForeignKey(
        "LabelStudioTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="annotations"
    )
    reasoning_check = models.CharField(
        max_length=16, choices=ReasoningCheck.choices, blank=True, help_text="Is the model's reasoning sound?"
    )
    subjectivity_level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The reviewer's level 1-4 (subjectivity only)."
    )
    label_studio_updated_at = models.CharField(
        max_length=40, blank=True, help_text="Label Studio's updated_at, so an older or replayed copy is ignored."
    )
    accepted_all = models.BooleanField(default=False, help_text="Given by the accept-all key, not feature by feature.")
    labels_edited = models.BooleanField(
        null=True, blank=True, help_text="The correction differs from the model's output (None: no correction)."
    )
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


class FlagRule(models.TextChoices):
    """The consistency rules of :mod:`annotate.consistency`, one flag per rule a review breaks."""

    CORRECT_BUT_CHANGED = "correct_but_changed", "Says correct but changes the output"
    INCORRECT_UNEXPLAINED = "incorrect_unexplained", "Says incorrect without a correction or comment"
    UNPARSABLE_OUTPUT = "unparsable_output", "Judges an output the parser could not read"


class ReviewFlag(models.Model):
    """A contradiction found in one review at intake; the lead settles it on the adjudication page."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="flags")
    rule = models.CharField(max_length=32, choices=FlagRule.choices)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotation", "rule"], name="reviewflag_unique_rule")]

    def __str__(self) -> str:
        return f"{self.rule} on annotation {self.annotation_id}"


class Adjudication(models.Model):
    """The lead's final word on one machine output, in place of the reviewers' majority.

    ``labels`` are the adjudicated labels (None when the verdict is "correct": the model's labels stand);
    for subjectivity ``level`` is the adjudicated level 1-4 when the lead gave one.
    """

    extraction = models.OneToOneField("extraction.Extraction", on_delete=models.CASCADE, related_name="adjudication")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    labels = models.JSONField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="adjudications"
    )
    decided_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"adjudicated {self.verdict} for extraction {self.extraction_id}"


class AnnotationTombstone(models.Model):
    """A Label Studio annotation known to be deleted: a create or update arriving later must not bring it back.

    Label Studio never reuses an annotation id, so a tombstone is final; webhooks may arrive out of order.
    """

    label_studio_annotation_id = models.BigIntegerField(unique=True)
    label_studio_project_id = models.BigIntegerField(
        null=True, blank=True, help_text="The project a webhook said it was in (empty: read from Label Studio)."
    )
    deleted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"annotation {self.label_studio_annotation_id} deleted"


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DELETED = "deleted", "Deleted in Label Studio"
    DRIFTED = "drifted", "Labeling config changed in Label Studio: reviews not read"


class LabelStudioProject(models.Model):
    """One annotator's Label Studio project for one sample: blind review on Label Studio's community edition.

    Each annotator gets a project holding only the items assigned to them. On a Label Studio the app manages,
    the project lives in the annotator's own organization, so Label Studio itself refuses it to everyone else
    (``independent``). On a server someone else runs, every member of the shared organization can open it: the
    reviews are then not independent, and the reports say so. ``label_config`` is the form the app pushed; a
    project whose form was changed in Label Studio is ``DRIFTED`` and its reviews are not read.
    """

    sample = models.ForeignKey(ReviewSample, on_delete=models.CASCADE, related_name="projects")
    annotator = models.ForeignKey(Annotator, on_delete=models.PROTECT, related_name="projects")
    title = models.CharField(max_length=200)
    label_studio_project_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    independent = models.BooleanField(
        default=False, help_text="Label Studio hides the project from other reviewers (its own organization)."
    )
    label_config = models.TextField(blank=True, help_text="The labeling config the app pushed.")
    status_detail = models.TextField(blank=True, help_text="Why the project is drifted or deleted.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sample", "annotator"], name="lsproject_unique_sample_annotator"),
            models.UniqueConstraint(fields=["label_studio_project_id"], name="lsproject_unique_ls_id"),
            models.UniqueConstraint(fields=["title"], name="lsproject_unique_title"),
        ]

    def __str__(self) -> str:
        return self.title


class LabelStudioTask(models.Model):
    """An item assigned to an annotator, and the Label Studio task that shows it to them once pushed."""

    project = models.ForeignKey(LabelStudioProject, on_delete=models.CASCADE, related_name="tasks")
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="tasks")
    label_studio_task_id = models.BigIntegerField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "item"], name="lstask_unique_project_item"),
            models.UniqueConstraint(fields=["label_studio_task_id"], name="lstask_unique_ls_id"),
        ]
        indexes = [models.Index(fields=["project", "label_studio_task_id"])]

    def __str__(self) -> str:
        return f"item {self.item_id} in {self.project_id} (task {self.label_studio_task_id})"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    UNKNOWN_TASK = "unknown_task", "Annotation for a task we did not push"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """A webhook call from Label Studio, stored before it is processed so nothing is lost.

    ``digest`` is the SHA-256 of the project and the body: a replayed or duplicated call is recognised and not
    stored twice. ``label_studio_project_id`` is the project whose webhook secret signed the call: the call may
    speak about that project's tasks and annotations only (``annotate.webhook_auth``).
    """

    action = models.CharField(max_length=40)
    digest = models.CharField(max_length=64, unique=True)
    label_studio_project_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.action} ({self.status})"
