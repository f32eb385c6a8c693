"""Prompt versions, extraction runs and the extractions they produce.

An extraction is unique on (conversation, feature, prompt version, model): a rerun skips what is
done and a crashed run resumes. ``labels`` holds the parsed, normalised output (a list of strings:
several for value features, one for response type, subjectivity and task).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from extraction.features import ALL_FEATURES, RESPONSE_TYPES, VALUE_FEATURE_NAMES

__all__ = ["RESPONSE_TYPES", "VALUE_FEATURES", "Extraction", "ExtractionRun", "Feature", "PromptVersion"]


class Feature(models.TextChoices):
    SUBJECTIVITY = "subjectivity", "Subjectivity"
    AI_VALUES = "ai_values", "AI values"
    HUMAN_VALUES = "human_values", "Human values"
    RESPONSE_TYPE = "response_type", "AI response type"
    TASK = "task", "Task"
    AI_VALUES_STATED = "ai_values_stated", "AI values (stated)"


VALUE_FEATURES = (Feature.AI_VALUES, Feature.HUMAN_VALUES, Feature.AI_VALUES_STATED)
assert set(VALUE_FEATURES) == set(VALUE_FEATURE_NAMES)
assert {str(f) for f in Feature} == set(ALL_FEATURES)


# A fused prompt set answers every feature in one call: its one version has feature "fused".
FUSED = "fused"
PROMPT_FEATURE_CHOICES = [*Feature.choices, (FUSED, "All features in one call")]


class PromptVersion(models.Model):
    """One feature's prompt in a prompt set, keyed by the hash of its content."""

    prompt_set = models.CharField(max_length=100, help_text='e.g. "paper-v1".')
    feature = models.CharField(max_length=32, choices=PROMPT_FEATURE_CHOICES)
    content_hash = models.CharField(max_length=64)
    template = models.TextField()
    metadata = models.JSONField(default=dict, help_text="output kind, default model, max_tokens, prefill, ...")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt_set", "feature", "content_hash"], name="promptversion_unique_content"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt_set}/{self.feature}@{self.content_hash[:10]}"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ExtractionRun(models.Model):
    """A dataset x prompt set x models x options."""

    dataset = models.ForeignKey("corpus.Dataset", on_delete=models.CASCADE, related_name="extraction_runs")
    prompt_set = models.CharField(max_length=100)
    provider = models.CharField(max_length=20, default="replay")
    model_map = models.JSONField(default=dict, help_text="feature -> model name")
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    total_items = models.PositiveIntegerField(default=0)
    done_items = models.PositiveIntegerField(default=0)
    failed_items = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    launch_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",  # rows written by code (or migration states) that predate the field get "" too
        help_text="SHA-256 of the request that started it over the API: one pending or running run per request",
    )

    class Meta:
        constraints = [
            # Two identical POSTs racing to start a run: the second insert fails here and is answered with the first.
            models.UniqueConstraint(
                fields=["launch_key"],
                condition=models.Q(status__in=["pending", "running"]) & ~models.Q(launch_key=""),
                name="extraction_run_one_active_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.prompt_set} on {self.dataset_id})"


class ExtractionStatus(models.TextChoices):
    OK = "ok", "Parsed"
    PARSE_ERROR = "parse_error", "Parse error"
    FAILED = "failed", "Request failed"


class Extraction(models.Model):
    conversation = models.ForeignKey("corpus.Conversation", on_delete=models.CASCADE, related_name="extractions")
    run = models.ForeignKey(ExtractionRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="extractions")
    feature = models.CharField(max_length=32, choices=Feature.choices)
    prompt_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="extractions")
    model = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=ExtractionStatus.choices)
    raw_text = models.TextField(blank=True)
    labels = models.JSONField(default=list, help_text="Normalised labels (list of strings).")
    thinking = models.TextField(blank=True)
    error = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True, help_text="Agreement among N samples, when sampled.")
    samples = models.JSONField(default=list, blank=True, help_text="Labels of each sample when sampled N times.")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    level = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Subjectivity level 1-4, when the answer gave one (labels hold yes/no)."
    )
    request_id = models.CharField(max_length=64, blank=True, help_text="custom_id of the (first) request.")
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Requests sent, retries included.")
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    batch = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "feature", "prompt_version", "model"], name="extraction_unique_item"
            ),
        ]
        indexes = [models.Index(fields=["run", "feature", "status"])]

    def __str__(self) -> str:
        return f"{self.feature} of {self.conversation_id} ({self.status})"


class BatchStatus(models.TextChoices):
    SUBMITTING = "submitting", "Submitting (batch id not known yet)"
    SUBMITTED = "submitted", "Submitted"
    COLLECTED = "collected", "Results stored"


class ExtractionBatch(models.Model):
    """A Message Batch of a run, written *before* it is submitted and given its id once the API returned it.

    ``items`` maps each request's custom_id to what it is for, so that a restarted run fetches the
    results of a submitted batch instead of submitting it again. A row still ``submitting`` after a
    crash may or may not have reached the API: the run looks for it among the account's batches
    (same request count, results with these custom_ids) before it submits it again.
    """

    run = models.ForeignKey(ExtractionRun, on_delete=models.CASCADE, related_name="batches")
    batch_id = models.CharField(max_length=100, blank=True, help_text="The API's id; empty while submitting.")
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.SUBMITTING)
    items = models.JSONField(default=dict, help_text="custom_id -> {conversation, prompt_version, sample}")
    request_count = models.PositiveIntegerField(default=0)
    fingerprint = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the requests as submitted.")
    submitted_at = models.DateTimeField(auto_now_add=True, help_text="When the submission began (row written).")
    collected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch_id"], condition=~models.Q(batch_id=""), name="extractionbatch_unique_batch_id"
            ),
            models.CheckConstraint(
                condition=models.Q(status="submitting") | ~models.Q(batch_id=""),
                name="extractionbatch_id_once_submitted",
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} of run {self.run_id} ({self.status})"
