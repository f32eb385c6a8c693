"""Datasets and the conversations in them.

A conversation keeps its ordered messages as a JSON list of ``{"role", "content"}`` with roles
normalised to ``user`` / ``assistant`` / ``system``. ``external_id`` is the source's id, or one
derived from the content; ``(dataset, external_id)`` is unique, which makes re-import idempotent.
"""

from __future__ import annotations

from django.db import models

from corpus.reading import MAX_DATASET_NAME_CHARS, MAX_ID_CHARS, MAX_MODEL_CHARS


class Role(models.TextChoices):
    USER = "user", "Human"
    ASSISTANT = "assistant", "Assistant"
    SYSTEM = "system", "System"


class Source(models.TextChoices):
    OPENAI = "openai", "OpenAI-style messages"
    SHAREGPT = "sharegpt", "ShareGPT"
    WILDCHAT = "wildchat", "WildChat / LMSYS-Chat"
    HH = "hh", "Anthropic HH transcript"
    CSV = "csv", "CSV"


class Dataset(models.Model):
    name = models.CharField(max_length=MAX_DATASET_NAME_CHARS, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="conversations")
    external_id = models.CharField(max_length=MAX_ID_CHARS)
    source = models.CharField(max_length=20, choices=Source.choices)
    model = models.CharField(max_length=MAX_MODEL_CHARS, blank=True, help_text="The model that answered, if known.")
    messages = models.JSONField(help_text='Ordered list of {"role": "user"|"assistant"|"system", "content": str}.')
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True)
    turn_count = models.PositiveIntegerField(help_text="Number of messages.")
    paired_with = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="For preference pairs (HH chosen/rejected): the other side.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="conversation_unique_external_id"),
        ]
        indexes = [
            models.Index(fields=["dataset", "model"]),
            # The dataset page skips to a deep page in this index (ids only), not through whole conversations.
            models.Index(fields=["dataset", "id"], name="conversation_dataset_id"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.external_id}"
