"""The paper's prevalences corrected by the human reviews (pure: DataFrames in, dicts out).

For a label of a feature (a response type, "subjective: yes", an AI value, or a value category), the LLM-only share
is the share of the run's conversations the classifier gave that label. The reviews give gold labels on a sample of
those conversations (``annotate.selectors.gold_labels``: the lead's adjudicated labels, else those a strict majority
of reviewers accepted or corrected to; see ``validation.corrections``, which reads them).
:func:`stats.ppi.ppi_prevalence` then gives the corrected share, its interval, the gold-only interval and the
effective number of gold labels. Only conversations of probability samples carry gold labels here, each with its
inclusion probability: weights 1/π for an unequal-probability sample; a find-errors sample is not used at all (it is
not a probability sample, so it cannot correct a prevalence).

A category share ("the conversation has a value in category c", the paper's Table 3) is corrected the same way, with
the classifier's and the gold labels both mapped to their categories by the taxonomy mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stats.ppi import ppi_prevalence

OUTPUT_COLUMNS = ("conversation_id", "feature", "labels")
GOLD_COLUMNS = ("conversation_id", "feature", "gold", "inclusion_probability")
METHOD = "PPI++ with the reviews' gold labels (adjudicated, else the reviewers' majority); find-errors samples left out"


def _normalised(labels: Iterable[Any] | None, mapping: Mapping[str, str] | None) -> tuple[str, ...]:
    keys = {str(label).strip().lower() for label in labels or () if str(label).strip()}
    if mapping is not None:
        keys = {str(mapping[k]).strip().lower() for k in keys if k in mapping}
    return tuple(sorted(keys))


def _label_entry(
    label: str, predicted: pd.Series, gold: pd.Series, weights: np.ndarray | None, confidence: float
) -> dict[str, Any]:
    has = predicted.map(lambda labels: label in labels).astype(float)
    gold_has = gold.map(lambda labels: label in labels).astype(float)
    est = ppi_prevalence(gold_has, has.loc[gold.index], has, weights=weights, confidence=confidence)
    entry = est.as_dict()
    entry["effective_n_gained"] = entry["effective_n"] - entry["n_reviewed"]
    entry["llm_only_bias"] = entry["llm_only"] - entry["estimate"]
    return {"label": label, **entry}


def corrected_prevalences(
    gold: pd.DataFrame,
    outputs: pd.DataFrame,
    *,
    features: Iterable[str],
    labels: Mapping[str, Sequence[str]] | None = None,
    mapping: Mapping[str, Mapping[str, str]] | None = None,
    top: int = 10,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Per feature and label: LLM-only share, PPI share and interval, gold-only interval, effective n.

    ``outputs``: one row per conversation and feature of the run (:data:`OUTPUT_COLUMNS`, labels as lists);
    ``gold``: the gold labels of the reviewed conversations of probability samples (:data:`GOLD_COLUMNS`);
    ``labels``: the labels to report per feature (default: the ``top`` most frequent among the classifier's);
    ``mapping``: per feature, label -> category, to correct category shares instead of label shares."""
    out: dict[str, Any] = {"method": METHOD}
    for feature in features:
        to_category = (mapping or {}).get(feature)
        part = outputs[outputs["feature"] == feature].drop_duplicates("conversation_id").set_index("conversation_id")
        predicted = part["labels"].map(lambda x, m=to_category: _normalised(x, m))
        reviewed = gold[(gold["feature"] == feature) & gold["conversation_id"].isin(predicted.index)]
        reviewed = reviewed.drop_duplicates("conversation_id").set_index("conversation_id")
        if reviewed.empty or predicted.empty:
            out[feature] = {"reason": "no reviewed conversation of a probability sample for this feature"}
            continue
        gold_labels = reviewed["gold"].map(lambda x, m=to_category: _normalised(x, m))
        pi = reviewed["inclusion_probability"].astype(float)
        weights = None if pi.isna().any() or np.ptp(pi.to_numpy()) <= 1e-12 else (1.0 / pi).to_numpy()
        wanted = [str(lab).strip().lower() for lab in (labels or {}).get(feature) or ()] or pd.Series(
            [lab for labs in predicted for lab in labs], dtype=object
        ).value_counts().index[:top].tolist()
        out[feature] = {
            "n_reviewed": len(reviewed),
            "n_outputs": len(predicted),
            "weights": "1/π (unequal-probability sample)" if weights is not None else "equal",
            "labels": [_label_entry(str(lab), predicted, gold_labels, weights, confidence) for lab in wanted],
        }
    return out
