"""stats/proportions.py: the paper's A.4 figures, statsmodels' intervals, a coverage simulation, the planner."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from stats.errors import EmptyInputError, OutOfScaleError, StatsInputError
from stats.proportions import additional_reviews_needed, proportion_ci, required_sample_size


def _round1(x: float) -> str:
    """Round half up to one decimal, as printed in the paper (98.75 → 98.8)."""
    return str(Decimal(repr(x)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("successes", "n", "estimate", "plus_minus"),
    [
        (88, 90, "97.8", "3.6"),  # subjectivity filter, yes/no side
        (85, 90, "94.4", "5.0"),  # subjectivity filter, exact score
        (79, 80, "98.8", "3.3"),  # AI values and stated AI values
        (75, 80, "93.8", "5.6"),  # human values
        (72, 80, "90.0", "6.7"),  # AI response type
    ],
)
def test_default_interval_reproduces_paper_appendix_a4(successes: int, n: int, estimate: str, plus_minus: str) -> None:
    ci = proportion_ci(successes, n)
    assert ci.method == "wilson"
    assert _round1(100 * ci.estimate) == estimate
    assert _round1(100 * ci.half_width) == plus_minus
    assert ci.half_width == pytest.approx((ci.high - ci.low) / 2)


@pytest.mark.parametrize("method", ["clopper-pearson", "agresti-coull", "wald"])
def test_other_methods_do_not_reproduce_the_paper(method: str) -> None:
    """The docstring's finding: only Wilson without continuity correction matches all five figures."""
    published = [(88, 90, "3.6"), (85, 90, "5.0"), (79, 80, "3.3"), (75, 80, "5.6"), (72, 80, "6.7")]
    matches = [_round1(100 * proportion_ci(s, n, method=method).half_width) == pm for s, n, pm in published]
    assert not all(matches)


@pytest.mark.parametrize(
    ("method", "sm_method"),
    [("wilson", "wilson"), ("clopper-pearson", "beta"), ("agresti-coull", "agresti_coull"), ("wald", "normal")],
)
def test_proportion_ci_matches_statsmodels(method: str, sm_method: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 500))
        x = int(rng.integers(0, n + 1))
        conf = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        ours = proportion_ci(x, n, confidence=conf, method=method)
        lo, hi = proportion_confint(x, n, alpha=1 - conf, method=sm_method)
        assert ours.low == pytest.approx(lo, abs=1e-9), (x, n, conf)
        assert ours.high == pytest.approx(hi, abs=1e-9), (x, n, conf)


def test_wilson_coverage_simulation_with_reviewers_of_known_accuracy() -> None:
    """Seed 20251122. Machine labels are right with probability 0.9 and a reviewer judges correctly with
    probability 0.97, so the share judged correct has true value 0.9·0.97 + 0.1·0.03 = 0.876. Over 2,000
    studies of 200 items each, the 95% Wilson interval must cover 0.876 in 93-97% of them. (With 80 items, the
    paper's size, the same simulation gives 92.7%: Wilson's coverage oscillates with n and p, dipping below
    nominal at some points; Brown, Cai & DasGupta 2001, Stat Sci 16:101-133.)"""
    rng = np.random.default_rng(20251122)
    theta = 0.9 * 0.97 + 0.1 * 0.03
    n, reps = 200, 2000
    machine_right = rng.random((reps, n)) < 0.9
    reviewer_right = rng.random((reps, n)) < 0.97
    judged_correct = (machine_right == reviewer_right).sum(axis=1)
    covered = 0
    for x in judged_correct:
        ci = proportion_ci(int(x), n)
        covered += ci.low <= theta <= ci.high
    assert 0.93 <= covered / reps <= 0.97


def test_required_sample_size_is_the_smallest_n_reaching_the_target() -> None:
    for expected, target, method, sm_method in [
        (0.95, 0.05, "wilson", "wilson"),
        (0.988, 0.033, "wilson", "wilson"),
        (0.9, 0.03, "clopper-pearson", "beta"),
        (0.8, 0.05, "agresti-coull", "agresti_coull"),
        (0.5, 0.1, "wald", "normal"),
    ]:
        n = required_sample_size(expected, target, method=method)

        def hw(m: int, e: float = expected, sm: str = sm_method) -> float:
            lo, hi = proportion_confint(e * m, m, method=sm)
            return (hi - lo) / 2

        assert hw(n) <= target + 1e-12
        assert hw(n - 1) > target
    # 95% expected, ±5%: 82 items give ±5.03%, 83 give ±4.997%.
    assert required_sample_size(0.95, 0.05) == 83


def test_additional_reviews_needed() -> None:
    # At 79/80 (paper's AI values) the Wilson half-width is 3.26%; reaching ±2% at 98.75% needs more items.
    more = additional_reviews_needed(79, 80, 0.02)
    assert more == required_sample_size(79 / 80, 0.02) - 80
    assert more > 0
    assert proportion_ci(79 / 80 * (80 + more), 80 + more).half_width <= 0.02
    assert additional_reviews_needed(79, 80, 0.05) == 0


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: proportion_ci(0, 0), EmptyInputError, "no reviews"),
        (lambda: proportion_ci(5, 4), OutOfScaleError, "0..n=4"),
        (lambda: proportion_ci(1, 4, method="exact"), StatsInputError, "unknown interval method"),
        (lambda: proportion_ci(1, 4, confidence=95), StatsInputError, "confidence"),
        (lambda: required_sample_size(1.2, 0.05), OutOfScaleError, "expected agreement"),
        (lambda: required_sample_size(0.9, 0), OutOfScaleError, "half-width"),
    ],
)
def test_proportion_bad_input(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call()
    assert issubclass(error, ValueError)


@pytest.mark.parametrize(
    ("successes", "n", "fragment"),
    [
        (math.nan, 10, "nan"),
        (math.inf, 10, "inf"),
        (5, 10.5, "10.5"),
        (5, math.nan, "nan"),
        (5, math.inf, "inf"),
    ],
)
def test_non_finite_or_fractional_counts_raise_naming_the_value(successes: float, n: float, fragment: str) -> None:
    """Audit finding: proportion_ci(nan, 10) returned NaN bounds and proportion_ci(5, 10.5) computed with 10.5
    while reporting n = 10."""
    with pytest.raises(StatsInputError, match=fragment):
        proportion_ci(successes, n)  # type: ignore[arg-type]


def test_a_whole_float_n_is_a_count() -> None:
    assert proportion_ci(5, 10.0).n == 10  # type: ignore[arg-type]
    assert proportion_ci(5, 10.0).estimate == 0.5  # type: ignore[arg-type]
