"""Reads behind the corrected prevalences: a run's outputs, its probability samples' inclusion probabilities and
the gold labels of their conversations (``annotate.selectors.gold_labels``), handed to ``validation.prevalence``.

The descriptive page of the results app reaches :func:`run_corrected_prevalences` through the setting
``DESCRIPTIVE_CORRECTIONS`` (a dotted path), as the analysis apps do not import the flow's apps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from annotate.models import ReviewItem
from annotate.selectors import gold_labels
from extraction.models import Extraction, ExtractionStatus
from validation import prevalence
from validation.designs import FIND_ERRORS


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
        rows = rows.filter(conversation_id__in=list(conversation_ids))
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
