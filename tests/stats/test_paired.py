"""stats/paired.py against the published Newcombe example, statsmodels' McNemar and Holm, and exact power."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError
from stats.paired import holm_correction, mcnemar_exact, paired_sample_size


def test_mcnemar_newcombe_interval_published_example() -> None:
    """Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables, ch. 8 (Cavo et al.
    2012): table 59/6/16/80, Newcombe square-and-add: -0.0621 (95% CI -0.1186 to -0.0046)."""
    a = [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80
    b = [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80
    res = mcnemar_exact(a, b)
    assert (res.both_correct, res.only_a_correct, res.only_b_correct, res.both_incorrect) == (59, 6, 16, 80)
    assert round(res.difference, 4) == -0.0621
    assert round(res.difference_low, 4) == -0.1186
    assert round(res.difference_high, 4) == -0.0046


def test_mcnemar_exact_p_matches_statsmodels() -> None:
    rng = np.random.default_rng(16)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        a = rng.random(n) < rng.uniform(0.5, 1.0)
        b = np.where(rng.random(n) < 0.8, a, rng.random(n) < 0.7)
        ours = mcnemar_exact(a.tolist(), b.tolist())
        table = [[ours.both_correct, ours.only_a_correct], [ours.only_b_correct, ours.both_incorrect]]
        if ours.only_a_correct + ours.only_b_correct == 0:
            assert ours.p_value == 1.0
            continue
        assert ours.p_value == pytest.approx(sm_mcnemar(table, exact=True).pvalue, abs=1e-9)
        assert ours.difference_low <= ours.difference <= ours.difference_high


def test_mcnemar_bad_input() -> None:
    with pytest.raises(LengthMismatchError, match="prompt A has 2"):
        mcnemar_exact([True, False], [True])
    with pytest.raises(EmptyInputError):
        mcnemar_exact([], [])
    with pytest.raises(OutOfScaleError, match=r"correct_b\[1\]"):
        mcnemar_exact([True, True], [True, "maybe"])


def test_holm_correction() -> None:
    res = holm_correction({"ai_values": 0.01, "human_values": 0.04, "response_type": 0.03})
    # sorted 0.01, 0.03, 0.04 → 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06
    assert res.adjusted == pytest.approx((0.03, 0.06, 0.06))
    assert res.reject == (True, False, False)
    with pytest.raises(OutOfScaleError, match="ai_values"):
        holm_correction({"ai_values": 1.5})
    with pytest.raises(EmptyInputError):
        holm_correction([])


def _exact_mcnemar_power(n: int, p_only_a: float, p_only_b: float, alpha: float) -> float:
    """Exact power of the exact McNemar test: D ~ Bin(n, ψ) discordant pairs, b | D ~ Bin(D, p₁₀/ψ)."""
    from scipy.stats import binom

    psi, q, power = p_only_a + p_only_b, p_only_a / (p_only_a + p_only_b), 0.0
    for d in range(1, n + 1):
        b = np.arange(d + 1)
        p = np.minimum(1.0, 2 * binom.cdf(np.minimum(b, d - b), d, 0.5))
        power += binom.pmf(d, n, psi) * (binom.pmf(b, d, q) * (p <= alpha)).sum()
    return float(power)


def test_paired_sample_size_reaches_about_the_target_power() -> None:
    """Connor's normal approximation; the exact test is conservative, so its exact power at that n sits a few
    points under 0.8 (0.76-0.78 for these discordance patterns), and well above it at 1.25 n."""
    for p10, p01 in [(0.1, 0.02), (0.15, 0.05), (0.2, 0.1)]:
        n = paired_sample_size(p10, p01)
        assert n is not None
        assert 0.74 <= _exact_mcnemar_power(n, p10, p01, 0.05) <= 0.85
        assert _exact_mcnemar_power(int(n * 1.25), p10, p01, 0.05) > 0.8
    assert paired_sample_size(0.05, 0.05) is None
    with pytest.raises(OutOfScaleError):
        paired_sample_size(0.7, 0.6)
