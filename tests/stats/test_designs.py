"""stats/designs.py: Wilson for simple random samples (the paper's A.4), the stratified estimator against
Cochran's formulas and the score equation written out, and the Hájek estimator's bias and variance checked by
simulation."""

from __future__ import annotations

import numpy as np
import pytest

from stats.designs import SIMPLE_RANDOM, STRATIFIED, UNEQUAL, design_share
from stats.errors import LengthMismatchError, OutOfScaleError
from stats.proportions import proportion_ci


@pytest.mark.parametrize(("successes", "n", "plus_minus"), [(88, 90, 3.6), (79, 80, 3.3), (72, 80, 6.7)])
def test_a_simple_random_sample_is_wilson_and_reproduces_the_papers_a4(
    successes: int, n: int, plus_minus: float
) -> None:
    y = [1] * successes + [0] * (n - successes)
    est = design_share(y, [n / 4000] * n)
    assert est.design == SIMPLE_RANDOM
    assert est.method == "wilson"
    assert round(100 * est.half_width, 1) == plus_minus
    ci = proportion_ci(successes, n)
    assert (est.low, est.high) == (ci.low, ci.high)
    assert est.population_size == pytest.approx(4000)


def test_stratified_estimate_and_variance_follow_cochran() -> None:
    """Two strata, N = 900 and 100, n = 30 and 30 (the small one oversampled)."""
    y_a = [1] * 27 + [0] * 3
    y_b = [1] * 15 + [0] * 15
    est = design_share(
        y_a + y_b, [30 / 900] * 30 + [30 / 100] * 30, strata=["a"] * 30 + ["b"] * 30, stratum_sizes={"a": 900, "b": 100}
    )
    w_a, w_b = 0.9, 0.1
    p = w_a * 0.9 + w_b * 0.5

    def variance(pa: float, pb: float) -> float:
        return w_a**2 * (1 - 30 / 900) * pa * (1 - pa) / 30 + w_b**2 * (1 - 30 / 100) * pb * (1 - pb) / 30

    assert est.design == STRATIFIED
    assert est.estimate == pytest.approx(p)
    assert est.effective_n == pytest.approx(p * (1 - p) / variance(0.9, 0.5))
    assert est.population_size == 1000
    # The bounds are where the score statistic reaches z, with both strata shifted by the same amount.
    z2 = 1.959963984540054**2
    for bound in (est.low, est.high):
        shift = bound - p
        assert (p - bound) ** 2 == pytest.approx(z2 * variance(0.9 + shift, 0.5 + shift), rel=1e-6)
    assert est.low < p < est.high
    unweighted = (27 + 15) / 60
    assert abs(est.estimate - unweighted) > 0.1  # the oversampled stratum would have dragged the plain share


def test_stratum_sizes_default_to_the_sum_of_weights() -> None:
    est = design_share([1, 0, 1, 1], [0.5, 0.5, 0.1, 0.1], strata=["a", "a", "b", "b"])
    assert est.population_size == pytest.approx(4 + 20)
    assert est.estimate == pytest.approx((4 * 0.5 + 20 * 1.0) / 24)


def test_hajek_under_poisson_sampling_is_nearly_unbiased_and_its_variance_estimate_is_right() -> None:
    rng = np.random.default_rng(0)
    n_pop = 3000
    uncertainty = rng.beta(1, 6, n_pop)
    correct = rng.random(n_pop) > uncertainty  # errors where the model is uncertain
    truth = correct.mean()
    pi = np.minimum(1.0, 150 * np.maximum(uncertainty, 0.05) / np.maximum(uncertainty, 0.05).sum())
    estimates, variances, covered = [], [], 0
    for _ in range(1500):
        drawn = rng.random(n_pop) < pi
        est = design_share(correct[drawn].astype(int).tolist(), pi[drawn].tolist())
        assert est.design == UNEQUAL
        estimates.append(est.estimate)
        variances.append((est.half_width / 1.96) ** 2)
        covered += est.low <= truth <= est.high
    assert np.mean(estimates) == pytest.approx(truth, abs=0.003)
    assert np.mean(variances) == pytest.approx(np.var(estimates), rel=0.2)
    assert 0.93 <= covered / 1500 <= 0.97


def test_bad_design_input() -> None:
    with pytest.raises(OutOfScaleError, match="inclusion probability of unit 1"):
        design_share([1, 0], [0.5, 0.0])
    with pytest.raises(OutOfScaleError, match="expected 0/1"):
        design_share([1, 2], [0.5, 0.5])
    with pytest.raises(LengthMismatchError):
        design_share([1, 0], [0.5])
