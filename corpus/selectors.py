"""Reads of datasets and conversations."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from corpus.models import Dataset


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(conversation_count=Count("conversations")).order_by("name")


class UnknownDatasetError(LookupError):
    """No dataset has the name the user gave."""


def dataset_id_by_name(name: str | None) -> int | None:
    """The id of the dataset called ``name``; None for None (meaning every dataset)."""
    if name is None:
        return None
    dataset_id = Dataset.objects.filter(name=name).values_list("id", flat=True).first()
    if dataset_id is None:
        known = ", ".join(Dataset.objects.order_by("name").values_list("name", flat=True)[:20]) or "none yet"
        raise UnknownDatasetError(f"no dataset named {name!r} (datasets: {known})")
    return dataset_id
