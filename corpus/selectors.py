"""Reads of datasets and conversations."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from corpus.models import Dataset


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(conversation_count=Count("conversations")).order_by("name")
