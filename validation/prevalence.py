"""The paper's prevalences corrected by the human reviews (pure: DataFrames in, dicts out).

For a label of a feature (a response type, "subjective: yes", an AI value), the LLM-only share is the share of the
run's outputs the classifier gave that label. The reviews give gold labels on a sample of those outputs: the
classifier's labels when the majority of reviewers judged the output correct, else the reviewers' correction (the
latest one), else none (the output is left out). :func:`stats.ppi.ppi_prevalence` then gives the corrected share,
its interval, the gold-only interval and the effective number of gold labels. Each review sample is used with its
design: weights 1/π for an unequal-probability sample; a find-errors sample is not used at all (it is not a
probability sample, so it cannot correct a prevalence).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stats.ppi import ppi_prevalence
from validation.reports import FIND_ERRORS, latest_reviews, output_verdicts

OUTPUT_COLUMNS = ("extraction_id", "feature", "labels")


def gold_labels(reviews: pd.DataFrame) -> pd.DataFrame:
    """Per reviewed output of a probability sample: its gold labels and inclusion probability."""
    df, _ = latest_reviews(reviews)
    df = df[df["design"] != FIND_ERRORS]
    if df.empty:
        return pd.DataFrame(columns=["extraction_id", "gold", "inclusion_probability"])
    verdicts = output_verdicts(df).set_index("extraction_id")
    corrected = (
        df[df["corrected_labels"].notna()]
        .sort_values("annotation_id")
        .groupby("extraction_id")["corrected_labels"]
        .last()
    )
    machine = df.groupby("extraction_id")["machine_labels"].first()
    rows = []
    for eid, v in verdicts.iterrows():
        if v["correct"]:
            gold = machine[eid]
        elif eid in corrected.index:
            gold = corrected[eid]
        else:
            continue
        rows.append(
            {"extraction_id": eid, "gold": tuple(gold or ()), "inclusion_probability": v["inclusion_probability"]}
        )
    return pd.DataFrame(rows, columns=["extraction_id", "gold", "inclusion_probability"])


def _label_entry(
    label: str, predicted: pd.Series, reviewed: pd.DataFrame, weights: np.ndarray | None, confidence: float
) -> dict[str, Any]:
    has = predicted.map(lambda labels: label in labels).astype(float)
    gold = reviewed["gold"].map(lambda labels: label in labels).astype(float)
    est = ppi_prevalence(gold, has.loc[reviewed.index], has, weights=weights, confidence=confidence)
    return {"label": label, **est.as_dict()}


def corrected_prevalences(
    reviews: pd.DataFrame,
    outputs: pd.DataFrame,
    *,
    features: Iterable[str],
    labels: dict[str, Sequence[str]] | None = None,
    top: int = 10,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Per feature and label: LLM-only share, PPI share and interval, gold-only interval, effective n.

    ``outputs``: every output of the run (:data:`OUTPUT_COLUMNS`, labels as lists); ``labels``: the labels to
    report per feature (default: the ``top`` most frequent among the classifier's labels)."""
    gold = gold_labels(reviews).set_index("extraction_id")
    out: dict[str, Any] = {"method": "PPI++ with the reviews as gold labels (find-errors samples left out)"}
    for feature in features:
        part = outputs[outputs["feature"] == feature].set_index("extraction_id")
        predicted = part["labels"].map(lambda x: tuple(x or ()))
        reviewed = gold[gold.index.isin(predicted.index)]
        if reviewed.empty or predicted.empty:
            out[feature] = {"reason": "no reviewed output of a probability sample for this feature"}
            continue
        pi = reviewed["inclusion_probability"].astype(float)
        weights = None if pi.isna().any() or np.ptp(pi.to_numpy()) <= 1e-12 else (1.0 / pi).to_numpy()
        wanted = (labels or {}).get(feature) or pd.Series(
            [lab for labs in predicted for lab in labs]
        ).value_counts().index[:top].tolist()
        out[feature] = {
            "n_reviewed": len(reviewed),
            "n_outputs": len(predicted),
            "weights": "1/π (unequal-probability sample)" if weights is not None else "equal",
            "labels": [_label_entry(str(lab), predicted, reviewed, weights, confidence) for lab in wanted],
        }
    return out
