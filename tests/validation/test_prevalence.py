"""validation/prevalence.py and validation/corrections.py: PPI-corrected shares from the gold labels
``annotate.selectors.gold_labels`` gives (adjudicated first), category shares, find-errors samples left out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from annotate.models import Adjudication, ReviewSample
from extraction.models import Extraction
from stats.ppi import ppi_prevalence
from tests.validation.conftest import Study
from validation import prevalence
from validation.corrections import run_corrected_prevalences


def _frames(
    predicted: np.ndarray, truth: np.ndarray, reviewed: np.ndarray, pi: float = 0.2
) -> tuple[pd.DataFrame, ...]:
    outputs = pd.DataFrame(
        {"conversation_id": np.arange(predicted.size), "feature": "f", "labels": [list(p) for p in predicted]}
    )
    gold = pd.DataFrame(
        {"conversation_id": reviewed, "feature": "f", "gold": [list(truth[i]) for i in reviewed],
         "inclusion_probability": pi}
    )  # fmt: skip
    return gold, outputs


def test_corrected_share_is_ppi_on_the_runs_outputs() -> None:
    rng = np.random.default_rng(3)
    n_all = 600
    truth = np.where(rng.random(n_all) < 0.3, "Reframing", "mild_support")
    predicted = np.where(rng.random(n_all) < 0.1, np.where(truth == "Reframing", "mild_support", "Reframing"), truth)
    reviewed = np.sort(rng.choice(n_all, size=120, replace=False))
    gold, outputs = _frames(predicted[:, None], truth[:, None], reviewed)
    out = prevalence.corrected_prevalences(gold, outputs, features=["f"], labels={"f": ["reframing"]})
    entry = out["f"]["labels"][0]
    ref = ppi_prevalence(
        (truth[reviewed] == "Reframing").astype(float),
        (predicted[reviewed] == "Reframing").astype(float),
        (predicted == "Reframing").astype(float),
    )
    assert entry["label"] == "reframing"  # labels compared ignoring case, as the gold labels are
    assert entry["estimate"] == pytest.approx(ref.estimate)
    assert (entry["low"], entry["high"]) == pytest.approx((ref.low, ref.high))
    assert (entry["gold_low"], entry["gold_high"]) == pytest.approx((ref.gold_low, ref.gold_high))
    assert entry["llm_only"] == pytest.approx((predicted == "Reframing").mean())
    assert entry["llm_only_bias"] == pytest.approx(entry["llm_only"] - ref.estimate)
    assert entry["effective_n_gained"] == pytest.approx(ref.effective_n - 120)
    assert out["f"]["weights"] == "equal"
    assert out["f"]["n_reviewed"] == 120


def test_category_share_is_ppi_on_conversations_with_a_value_in_the_category() -> None:
    """Table 3: a conversation counts for a category when one of its values maps to it; the classifier's values
    and the gold values are both mapped before the correction."""
    rng = np.random.default_rng(5)
    n_all = 500
    values = np.array(["honesty", "care", "efficiency", "accuracy"])
    mapping = {"honesty": "Ethical", "care": "Ethical", "efficiency": "Practical", "accuracy": "Epistemic"}
    truth = [tuple(rng.choice(values, size=rng.integers(1, 3), replace=False)) for _ in range(n_all)]
    predicted = [t if rng.random() > 0.15 else (str(rng.choice(values)),) for t in truth]
    reviewed = np.sort(rng.choice(n_all, size=100, replace=False))
    gold, outputs = _frames(np.array(predicted, dtype=object), np.array(truth, dtype=object), reviewed)
    out = prevalence.corrected_prevalences(
        gold, outputs, features=["f"], mapping={"f": mapping}, labels={"f": ["Ethical"]}
    )

    def in_ethical(vals: tuple[str, ...]) -> float:
        return float(any(mapping[v] == "Ethical" for v in vals))

    ref = ppi_prevalence(
        [in_ethical(truth[i]) for i in reviewed],
        [in_ethical(predicted[i]) for i in reviewed],
        [in_ethical(p) for p in predicted],
    )
    entry = out["f"]["labels"][0]
    assert entry["estimate"] == pytest.approx(ref.estimate)
    assert (entry["low"], entry["high"]) == pytest.approx((ref.low, ref.high))
    assert entry["llm_only"] == pytest.approx(np.mean([in_ethical(p) for p in predicted]))


def test_run_prevalences_read_the_adjudicated_gold_labels_and_leave_find_errors_samples_out(study: Study) -> None:
    before = run_corrected_prevalences(
        run_id=study.run.pk, features=["response_type"], labels={"response_type": ["mild_support"]}
    )
    mild = before["response_type"]["labels"][0]
    assert mild["gold_only"] == pytest.approx(4 / 20)  # A corrected every fifth output to mild support
    # A lead settles conversation 1's output as mild support: the gold label follows the adjudication.
    output = Extraction.objects.get(run=study.run, prompt_version=study.rt, conversation__external_id="study-1")
    Adjudication.objects.create(extraction=output, verdict="incorrect", labels=["mild_support"])
    after = run_corrected_prevalences(
        run_id=study.run.pk, features=["response_type"], labels={"response_type": ["mild_support"]}
    )
    assert after["response_type"]["labels"][0]["gold_only"] == pytest.approx(5 / 20)
    ReviewSample.objects.filter(pk=study.sample.pk).update(strategy="find_errors")
    refused = run_corrected_prevalences(run_id=study.run.pk, features=["response_type"])
    assert "reason" in refused["response_type"]
