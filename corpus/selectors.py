"""Reads of datasets and conversations."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from corpus.models import Conversation, Dataset


def conversation_list(
    *, dataset: Dataset, model: str | None = None, within: QuerySet[Conversation] | None = None
) -> QuerySet[Conversation]:
    """A dataset's conversations in id order.

    ``model`` keeps the conversations answered by that model ("" for those with no model recorded);
    ``within`` restricts to a subset (e.g. an extraction run's conversations).
    """
    qs = (within if within is not None else Conversation.objects.all()).filter(dataset=dataset)
    if model is not None:
        qs = qs.filter(model=model)
    return qs.order_by("pk")


def dataset_models(*, dataset: Dataset) -> list[tuple[str, int]]:
    """(model, conversations) of a dataset, most frequent first; "" stands for no model recorded."""
    rows = (
        Conversation.objects.filter(dataset=dataset)
        .values_list("model")
        .annotate(n=Count("pk"))
        .order_by("-n", "model")
        .values_list("model", "n")
    )
    return list(rows)


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
