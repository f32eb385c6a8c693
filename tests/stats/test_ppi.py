"""stats/ppi.py against the ppi-python package (unweighted and weighted), and the PPI promise on planted errors."""

from __future__ import annotations

import numpy as np
import pytest
from ppi_py import classical_mean_ci, ppi_mean_ci, ppi_mean_pointestimate

from stats.errors import LengthMismatchError, OutOfScaleError
from stats.ppi import ppi_prevalence


def _synthetic(rng: np.random.Generator, n_all: int, n: int, prevalence: float, error: float) -> tuple[np.ndarray, ...]:
    truth = (rng.random(n_all) < prevalence).astype(float)
    flip = rng.random(n_all) < error
    predicted = np.where(flip, 1 - truth, truth)
    reviewed = rng.choice(n_all, size=n, replace=False)
    return truth, predicted, reviewed


@pytest.mark.parametrize("weighted", [False, True])
def test_matches_ppi_python(weighted: bool) -> None:
    rng = np.random.default_rng(4)
    truth, predicted, reviewed = _synthetic(rng, 5000, 300, 0.234, 0.1)
    w = rng.uniform(0.5, 3.0, 300) if weighted else None
    ours = ppi_prevalence(truth[reviewed], predicted[reviewed], predicted, weights=w, confidence=0.9)
    y, yhat = truth[reviewed], predicted[reviewed]
    lo, hi = ppi_mean_ci(y, yhat, predicted, alpha=0.1, w=w)
    point = ppi_mean_pointestimate(y, yhat, predicted, w=w)
    assert ours.estimate == pytest.approx(float(np.ravel(point)[0]), abs=1e-12)
    assert ours.low == pytest.approx(float(np.ravel(lo)[0]), abs=1e-12)
    assert ours.high == pytest.approx(float(np.ravel(hi)[0]), abs=1e-12)
    g_lo, g_hi = classical_mean_ci(y, w=w, alpha=0.1)
    assert (ours.gold_low, ours.gold_high) == pytest.approx((float(g_lo), float(g_hi)), abs=1e-12)
    assert 0 < ours.lam <= 1
    plain = ppi_prevalence(y, yhat, predicted, weights=w, lam=1.0, confidence=0.9)
    lo1, hi1 = ppi_mean_ci(y, yhat, predicted, alpha=0.1, w=w, lam=1.0)
    assert (plain.low, plain.high) == pytest.approx((float(np.ravel(lo1)[0]), float(np.ravel(hi1)[0])), abs=1e-12)


def test_with_ten_percent_classifier_error_ppi_covers_and_beats_the_gold_labels_alone() -> None:
    """The helpfulness share of Table 1 (23.4%) with a classifier wrong on 10% of outputs, 400 studies."""
    rng = np.random.default_rng(7)
    covered, gold_covered, widths, gold_widths, llm_bias = 0, 0, [], [], []
    for _ in range(400):
        truth, predicted, reviewed = _synthetic(rng, 4000, 200, 0.234, 0.1)
        share = truth.mean()
        est = ppi_prevalence(truth[reviewed], predicted[reviewed], predicted)
        covered += est.low <= share <= est.high
        gold_covered += est.gold_low <= share <= est.gold_high
        widths.append(est.high - est.low)
        gold_widths.append(est.gold_high - est.gold_low)
        llm_bias.append(est.llm_only - share)
    assert 0.92 <= covered / 400 <= 0.98
    assert 0.92 <= gold_covered / 400 <= 0.98
    assert np.mean(widths) < 0.85 * np.mean(gold_widths)
    # LLM-only: 0.234·0.9 + 0.766·0.1 = 0.287, about 5 points too high, and no interval can see it.
    assert np.mean(llm_bias) == pytest.approx(0.1 * (1 - 2 * 0.234), abs=0.005)


def test_bad_ppi_input() -> None:
    with pytest.raises(LengthMismatchError):
        ppi_prevalence([1, 0], [1], [1, 0, 1])
    with pytest.raises(OutOfScaleError, match="gold"):
        ppi_prevalence([1, float("nan")], [1, 0], [1, 0, 1])
    with pytest.raises(OutOfScaleError, match="weights must be positive"):
        ppi_prevalence([1, 0], [1, 0], [1, 0, 1], weights=[1.0, 0.0])
