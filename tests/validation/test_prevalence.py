"""validation/prevalence.py: gold labels from the reviews, PPI-corrected shares, find-errors samples left out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stats.ppi import ppi_prevalence
from validation import prevalence


def _review(
    eid: int, verdict: str, machine: list[str], corrected: list[str] | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "annotation_id": kw.get("annotation_id", eid),
        "item_id": eid,
        "stratum": None,
        "conversation_id": eid,
        "external_id": f"c{eid}",
        "extraction_id": eid,
        "feature": "response_type",
        "prompt_version_id": 1,
        "prompt_version": "v",
        "model": "m",
        "annotator": kw.get("annotator", "a"),
        "verdict": verdict,
        "machine_labels": machine,
        "corrected_labels": corrected,
        "sample_id": kw.get("sample_id", 1),
        "design": kw.get("design", "random"),
        "inclusion_probability": kw.get("pi", 0.1),
        "stratum_size": None,
    }


def test_gold_labels_follow_the_majority_and_the_correction_and_skip_find_errors() -> None:
    reviews = pd.DataFrame(
        [
            _review(1, "correct", ["mild_support"]),
            _review(2, "incorrect", ["mild_support"], ["reframing"]),
            _review(3, "incorrect", ["mild_support"]),  # rejected without a correction: no gold label
            _review(4, "incorrect", ["no_values"], ["strong_support"], design="find_errors", pi=None),
        ]
    )
    gold = prevalence.gold_labels(reviews).set_index("extraction_id")["gold"].to_dict()
    assert gold == {1: ("mild_support",), 2: ("reframing",)}


def test_corrected_share_is_ppi_on_the_runs_outputs() -> None:
    rng = np.random.default_rng(3)
    n_all = 600
    truth = np.where(rng.random(n_all) < 0.3, "reframing", "mild_support")
    predicted = np.where(rng.random(n_all) < 0.1, np.where(truth == "reframing", "mild_support", "reframing"), truth)
    reviewed = np.sort(rng.choice(n_all, size=120, replace=False))
    rows = []
    for i in reviewed:
        ok = truth[i] == predicted[i]
        rows.append(_review(int(i), "correct" if ok else "incorrect", [predicted[i]], None if ok else [truth[i]]))
    outputs = pd.DataFrame(
        {"extraction_id": np.arange(n_all), "feature": "response_type", "labels": [[p] for p in predicted]}
    )
    out = prevalence.corrected_prevalences(
        pd.DataFrame(rows), outputs, features=["response_type"], labels={"response_type": ["reframing"]}
    )
    entry = out["response_type"]["labels"][0]
    ref = ppi_prevalence(
        (truth[reviewed] == "reframing").astype(float),
        (predicted[reviewed] == "reframing").astype(float),
        (predicted == "reframing").astype(float),
    )
    assert entry["estimate"] == pytest.approx(ref.estimate)
    assert (entry["low"], entry["high"]) == pytest.approx((ref.low, ref.high))
    assert entry["llm_only"] == pytest.approx((predicted == "reframing").mean())
    assert out["response_type"]["weights"] == "equal"
    assert out["response_type"]["n_reviewed"] == 120
