"""Reads of datasets and conversations."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Count, Max, QuerySet
from django.db.models.expressions import RawSQL

from corpus.cache import cached_report
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


def ids_in(ids: Iterable[int]) -> list[int] | RawSQL:
    """``ids`` as the right-hand side of an ``__in`` lookup. On PostgreSQL one array parameter that the server
    unnests: a list of the 300,000 conversations of a paper-scale dataset is as many placeholders, which psycopg
    takes seconds to split and bind (and the server to parse)."""
    as_ints = [int(i) for i in ids]
    if connection.vendor != "postgresql":
        return as_ints
    return RawSQL("SELECT unnest(%s::bigint[])", ["{" + ",".join(map(str, as_ints)) + "}"])


def corpus_data_version() -> tuple[int | None, tuple[int, ...]]:
    """Changes with every write the product makes to conversations: they are only inserted (the newest id grows)
    or deleted with their dataset (the datasets' ids change). Two indexed queries."""
    newest = Conversation.objects.aggregate(n=Max("pk"))["n"]
    return newest, tuple(Dataset.objects.order_by("pk").values_list("pk", flat=True))


def dataset_models(*, dataset: Dataset) -> list[tuple[str, int]]:
    """(model, conversations) of a dataset, most frequent first; "" stands for no model recorded. Counted once per
    version of the conversations (a scan of the dataset: seconds at the paper's scale)."""

    def count() -> list[tuple[str, int]]:
        rows = (
            Conversation.objects.filter(dataset=dataset)
            .values_list("model")
            .annotate(n=Count("pk"))
            .order_by("-n", "model")
            .values_list("model", "n")
        )
        return list(rows)

    return cached_report(name=f"dataset-models-{dataset.pk}", version=corpus_data_version(), compute=count)


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(conversation_count=Count("conversations")).order_by("name")


def dataset_list_counted() -> list[Dataset]:
    """Datasets by name, each with ``conversation_count``, counted once per version of the conversations."""
    version = corpus_data_version()
    counts = cached_report(
        name="dataset-counts",
        version=version,
        compute=lambda: dict(Conversation.objects.values_list("dataset_id").annotate(n=Count("pk"))),
    )
    datasets = list(Dataset.objects.order_by("name"))
    for d in datasets:
        d.conversation_count = counts.get(d.pk, 0)  # type: ignore[attr-defined]
    return datasets


class UnknownDatasetError(LookupError):
    """No dataset has the name the user gave."""


def dataset_id_by_name(name: str | None) -> int | None:
    """The id of the dataset called ``name``; None for None (meaning every dataset)."""
    if name is None:
        return None
    if "\x00" in name:  # no dataset can be named so (import refuses it), and PostgreSQL refuses it in a query
        raise UnknownDatasetError(f"no dataset named {name!r}: a name has no NUL character")
    dataset_id = Dataset.objects.filter(name=name).values_list("id", flat=True).first()
    if dataset_id is None:
        known = ", ".join(Dataset.objects.order_by("name").values_list("name", flat=True)[:20]) or "none yet"
        raise UnknownDatasetError(f"no dataset named {name!r} (datasets: {known})")
    return dataset_id
