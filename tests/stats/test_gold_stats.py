"""stats additions for gold-set scoring: McNemar power, maximum matching of value sets, micro P/R/F1.

Each is checked against an independent computation: brute-force enumeration of the trinomial for the power,
brute-force search over matchings, and scikit-learn's micro-averaged precision/recall/F1.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from stats.paired import mcnemar_power, paired_sample_size
from stats.sets import matched_count, micro_prf


def _power_by_enumeration(p10: float, p01: float, n: int, alpha: float) -> float:
    """Every (b, c) table of n pairs with its multinomial probability; rejected by scipy's exact binomial test."""
    total = 0.0
    p11 = 1 - p10 - p01
    for b in range(n + 1):
        for c in range(n + 1 - b):
            if b + c == 0:
                continue
            prob = math.comb(n, b) * math.comb(n - b, c) * p10**b * p01**c * p11 ** (n - b - c)
            if binomtest(b, b + c, 0.5).pvalue <= alpha:
                total += prob
    return total


@pytest.mark.parametrize(("p10", "p01", "n"), [(0.15, 0.05, 40), (0.02, 0.10, 60), (0.1, 0.1, 30)])
def test_mcnemar_power_equals_enumeration_with_scipys_exact_binomial_test(p10: float, p01: float, n: int) -> None:
    assert mcnemar_power(p10, p01, n, alpha=0.05) == pytest.approx(_power_by_enumeration(p10, p01, n, 0.05), abs=1e-9)


def test_mcnemar_power_is_near_the_target_at_connors_sample_size() -> None:
    # Connor's normal approximation sizes a study for 80% power; the exact test's power there is close to it.
    n = paired_sample_size(0.15, 0.05, alpha=0.05, power=0.8)
    assert n is not None
    assert mcnemar_power(0.15, 0.05, n, alpha=0.05) == pytest.approx(0.8, abs=0.04)


def test_mcnemar_power_without_a_difference_stays_below_alpha() -> None:
    # The exact test is conservative: under H0 its rejection rate never exceeds alpha.
    for n in (20, 57, 200):
        assert mcnemar_power(0.1, 0.1, n, alpha=0.05) <= 0.05


def _brute_matching(m: np.ndarray) -> int:
    rows, cols = m.shape
    best = 0
    for perm in itertools.permutations(range(cols), min(rows, cols)):
        if rows <= cols:
            best = max(best, sum(m[i, perm[i]] for i in range(rows)))
    if rows > cols:
        return _brute_matching(m.T)
    return best


def test_matched_count_is_the_maximum_matching_found_by_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        m = rng.random((rng.integers(1, 5), rng.integers(1, 5))) < 0.4
        assert matched_count(m) == _brute_matching(m)


def test_matched_count_counts_no_value_twice() -> None:
    # Two predicted values both similar to one gold value: one match, not two.
    assert matched_count([[True], [True]]) == 1
    assert matched_count(np.zeros((0, 3), dtype=bool)) == 0


def test_micro_prf_equals_scikit_learn_micro_average() -> None:
    pred = [{"honesty", "care"}, {"autonomy"}, set(), {"care", "rigor", "clarity"}]
    gold = [{"honesty"}, {"autonomy", "care"}, {"rigor"}, {"care", "clarity"}]
    tp = [len(p & g) for p, g in zip(pred, gold, strict=True)]
    ours = micro_prf(tp, [len(p) for p in pred], [len(g) for g in gold])
    mlb = MultiLabelBinarizer().fit(pred + gold)
    ref = precision_recall_fscore_support(mlb.transform(gold), mlb.transform(pred), average="micro")
    assert ours == pytest.approx(ref[:3])


def test_micro_prf_weights_repeat_items() -> None:
    assert micro_prf([1, 0], [2, 1], [1, 1], weights=[2, 0]) == pytest.approx(micro_prf([1, 1], [2, 2], [1, 1]))


def test_holm_equals_statsmodels_multipletests() -> None:
    from statsmodels.stats.multitest import multipletests

    from stats.paired import holm_correction

    rng = np.random.default_rng(5)
    for _ in range(50):
        p = rng.random(rng.integers(1, 8)) ** 3
        ours = holm_correction(list(p), alpha=0.05)
        reject, adjusted, _, _ = multipletests(p, alpha=0.05, method="holm")
        assert ours.adjusted == pytest.approx(tuple(adjusted))
        assert ours.reject == tuple(bool(x) for x in reject)
