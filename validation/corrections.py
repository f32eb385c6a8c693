"""Reads behind the corrected prevalences: a run's outputs, its probability samples' inclusion probabilities and
the gold labels of their conversations (``annotate.selectors.gold_labels``), handed to ``validation.prevalence``.

The descriptive page of the results app reaches :func:`run_corrected_prevalences` through the setting
``DESCRIPTIVE_CORRECTIONS`` (a dotted path), as the analysis apps do not import the flow's apps, and the version of
what it reads (:func:`corrections_data_version`, the key of the cached corrections) through
``DESCRIPTIVE_CORRECTIONS_VERSION``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from django.db.models import Count, Max

from annotate.models import Adjudication, ReviewItem
from annotate.selectors import gold_labels, review_data_version
from corpus.selectors import ids_in
from extraction.models import Extraction, ExtractionStatus
from extraction.selectors import extraction_data_version
from validation import prevalence
from validation.designs import FIND_ERRORS


def corrections_data_version(*, run_id: int) -> tuple[Any, ...] | None:
    """Changes with every write to what :func:`run_corrected_prevalences` reads for run ``run_id``: the run's
    outputs (None while the run may be writing: nothing is cached then), the reviews, the lead's adjudications
    (decided or decided again) and the run's review samples. A few aggregates over thousands of rows."""
    outputs = extraction_data_version(run_id=run_id)
    if outputs is None:
        return None
    adjudications = Adjudication.objects.aggregate(n=Count("pk"), newest=Max("pk"), decided=Max("decided_at"))
    items = ReviewItem.objects.filter(sample__run_id=run_id).aggregate(n=Count("pk"), newest=Max("pk"))
    return outputs, review_data_version(), tuple(sorted(adjudications.items())), tuple(sorted(items.items()))


def probability_sample_items(*, run_id: int) -> dict[int, float | None]:
    """Conversation id -> inclusion probability, over the run's samples that are probability samples (every
    strategy but find-errors); a conversation drawn by two samples keeps its first sample's probability."""
    rows = (
        ReviewItem.objects.filter(sample__run_id=run_id)
        .exclude(sample__strategy=FIND_ERRORS)
        .order_by("sample_id", "position")
        .values_list("conversation_id", "inclusion_probability")
    )
    out: dict[int, float | None] = {}
    for conversation_id, pi in rows:
        out.setdefault(int(conversation_id), pi)
    return out


def run_corrected_prevalences(
    *,
    run_id: int,
    features: Iterable[str],
    labels: Mapping[str, Sequence[str]] | None = None,
    category_mapping: Mapping[str, str] | None = None,
    category_feature: str = "ai_values",
    conversation_ids: Iterable[int] | None = None,
    top: int = 10,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """:func:`validation.prevalence.corrected_prevalences` for one run. ``conversation_ids`` limits the outputs
    (and gold labels) to those conversations, e.g. the subjective ones a descriptive table counts;
    ``category_mapping`` (value -> top-level category) adds ``"categories"``: the share of conversations with a
    value of ``category_feature`` in each category, corrected the same way."""
    names = list(features) + ([category_feature] if category_mapping else [])
    rows = Extraction.objects.filter(run_id=run_id, status=ExtractionStatus.OK, feature__in=names)
    if conversation_ids is not None:
        rows = rows.filter(conversation_id__in=ids_in(conversation_ids))
    outputs = pd.DataFrame(
        list(rows.order_by("id").values_list(*prevalence.OUTPUT_COLUMNS)), columns=list(prevalence.OUTPUT_COLUMNS)
    )
    items = probability_sample_items(run_id=run_id)
    gold = [
        {"conversation_id": c, "feature": f, "gold": list(g.labels), "inclusion_probability": items[c]}
        for (c, f), g in gold_labels(run_id=run_id, conversation_ids=list(items), features=names).items()
    ]
    gold_frame = pd.DataFrame(gold, columns=list(prevalence.GOLD_COLUMNS))
    common: dict[str, Any] = {"top": top, "confidence": confidence}
    out = prevalence.corrected_prevalences(gold_frame, outputs, features=list(features), labels=labels, **common)
    if category_mapping:
        lowered = {str(k).strip().lower(): str(v) for k, v in category_mapping.items()}
        categories = prevalence.corrected_prevalences(
            gold_frame, outputs, features=[category_feature], mapping={category_feature: lowered}, **common
        )
        out["categories"] = categories[category_feature]
    return out
