"""Binomial proportions: confidence intervals for an agreement rate, and how many reviews reach a target width.

The agreement report's "97.8% ± 3.6%" is :func:`proportion_ci` (Wilson by default, which reproduces the paper's
Appendix A.4); the review-sample planner is :func:`required_sample_size`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import beta as beta_dist

from stats.errors import EmptyInputError, OutOfScaleError, StatsInputError, check_whole, confidence_z
from stats.result import Result

__all__ = ["ProportionCI", "additional_reviews_needed", "proportion_ci", "required_sample_size"]


@dataclass(frozen=True)
class ProportionCI(Result):
    successes: float
    n: int
    estimate: float
    low: float
    high: float
    half_width: float
    confidence: float
    method: str


ProportionMethod = Literal["wilson", "clopper-pearson", "agresti-coull", "wald"]
_PROPORTION_METHODS = ("wilson", "clopper-pearson", "agresti-coull", "wald")


def _interval(
    x: npt.NDArray[np.float64], n: npt.NDArray[np.float64], z: float, confidence: float, method: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vectorised bounds; ``x`` may be fractional (the planner evaluates expected counts)."""
    p = x / n
    if method == "wilson":
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return np.clip(centre - spread, 0.0, 1.0), np.clip(centre + spread, 0.0, 1.0)
    if method == "wald":
        spread = z * np.sqrt(p * (1 - p) / n)
        return np.clip(p - spread, 0.0, 1.0), np.clip(p + spread, 0.0, 1.0)
    if method == "agresti-coull":
        n_t = n + z * z
        p_t = (x + z * z / 2) / n_t
        spread = z * np.sqrt(p_t * (1 - p_t) / n_t)
        return np.clip(p_t - spread, 0.0, 1.0), np.clip(p_t + spread, 0.0, 1.0)
    if method == "clopper-pearson":
        a = (1 - confidence) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            low = np.where(x > 0, beta_dist.ppf(a, np.maximum(x, 1e-300), n - x + 1), 0.0)
            high = np.where(x < n, beta_dist.ppf(1 - a, x + 1, np.maximum(n - x, 1e-300)), 1.0)
        return np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    raise StatsInputError(f"unknown interval method {method!r}; choose one of {', '.join(_PROPORTION_METHODS)}")


def proportion_ci(
    successes: float, n: int, *, confidence: float = 0.95, method: ProportionMethod | str = "wilson"
) -> ProportionCI:
    """Confidence interval for a binomial proportion ``successes / n``.

    ``half_width`` is half the interval's width, ``(high - low) / 2``: that is the "±" of the paper's
    Appendix A.4. With z = Φ⁻¹(1 - (1 - confidence)/2) and p = x/n:

    * ``wilson`` (default; Wilson 1927, no continuity correction):
      (p + z²/2n ± z·√(p(1-p)/n + z²/4n²)) / (1 + z²/n).
    * ``clopper-pearson`` (exact; Clopper & Pearson 1934): Beta(a/2; x, n-x+1), Beta(1-a/2; x+1, n-x).
    * ``agresti-coull`` (Agresti & Coull 1998): ñ = n + z², p̃ = (x + z²/2)/ñ, p̃ ± z·√(p̃(1-p̃)/ñ).
    * ``wald``: p ± z·√(p(1-p)/n).

    Wilson, Wald and Agresti-Coull are clipped to [0, 1] (as statsmodels does).

    Which method the paper used: its A.4 figures are reproduced to the printed precision only by Wilson
    without continuity correction, with ± = (high - low)/2, from 88/90 (97.8% ± 3.6%), 85/90 (94.4% ± 5.0%),
    79/80 (98.8% ± 3.3%), 75/80 (93.8% ± 5.6%) and 72/80 (90.0% ± 6.7%). The Wald interval gives
    ±3.0/4.7/2.4/5.3/6.6 (distance to the nearer bound even less), Clopper-Pearson ±3.8/5.3/3.4/6.0/7.2,
    Agresti-Coull ±4.0/5.3/3.7/5.9/6.9 and Wilson with continuity correction ±4.1/5.5/3.8/6.2/7.3; none
    of those matches. Note the Wilson interval is asymmetric near 100%, so "±" hides that the upper
    bound is closer (79/80: 93.3%-99.8%).
    """
    _check_count(successes, n)
    z = confidence_z(confidence)
    low, high = _interval(np.array([float(successes)]), np.array([float(n)]), z, confidence, method)
    lo, hi = float(low[0]), float(high[0])
    return ProportionCI(
        successes=successes,
        n=int(n),
        estimate=successes / n,
        low=lo,
        high=hi,
        half_width=(hi - lo) / 2,
        confidence=confidence,
        method=method,
    )


def _check_count(successes: float, n: int) -> None:
    """``n`` a positive whole number, ``successes`` a finite number within 0..n (fractional allowed: the planner
    and expected counts use them)."""
    if n is None:
        raise EmptyInputError("n must be a positive number of reviewed items, got None (no reviews?)")
    whole = check_whole(n, "n (the number of reviewed items)")
    if whole <= 0:
        raise EmptyInputError(f"n must be a positive number of reviewed items, got {n!r} (no reviews?)")
    try:
        finite = math.isfinite(float(successes))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        raise StatsInputError(f"successes must be a finite number, got {successes!r}")
    if successes < 0 or successes > n:
        raise OutOfScaleError(f"successes must be within 0..n={n}, got {successes!r}")


def _half_width(expected: float, n: npt.NDArray[np.float64], confidence: float, method: str) -> np.ndarray:
    low, high = _interval(expected * n, n, confidence_z(confidence), confidence, method)
    return (high - low) / 2


_MAX_N = 10**8


def required_sample_size(
    expected: float, half_width: float, *, confidence: float = 0.95, method: ProportionMethod | str = "wilson"
) -> int:
    """Smallest n whose interval at the expected agreement has half-width ≤ ``half_width``.

    The interval is evaluated at x = expected·n (a fractional count, so the answer does not jump with
    rounding). The half-width decreases monotonically with n at a fixed proportion for all four methods,
    so the smallest n is found by doubling then bisection. For Wilson the closed form would be the root of
    z·√(p(1-p)/n + z²/4n²)/(1 + z²/n) = h; bisection on the same function used for reporting guarantees
    the planner and the report agree. The Wald interval has zero width at an expected 0 or 1, so it then
    answers 1 (one more reason not to plan with it). Reference for the intervals: Newcombe (1998), Stat Med
    17:857-872. Example: expected 0.95, ±5%, 95% Wilson → 83 (82 items give ±5.03%).
    """
    if not 0.0 <= expected <= 1.0:
        raise OutOfScaleError(f"expected agreement must be within [0, 1], got {expected!r}")
    if not 0.0 < half_width <= 0.5:
        raise OutOfScaleError(f"target half-width must be within (0, 0.5], got {half_width!r}")
    confidence_z(confidence)
    if method not in _PROPORTION_METHODS:
        raise StatsInputError(f"unknown interval method {method!r}; choose one of {', '.join(_PROPORTION_METHODS)}")

    def ok(n: int) -> bool:
        return bool(_half_width(expected, np.array([float(n)]), confidence, method)[0] <= half_width + 1e-15)

    hi = 1
    while not ok(hi):
        hi *= 2
        if hi > _MAX_N:
            raise StatsInputError(f"no n up to {_MAX_N} reaches half-width {half_width} at {expected}")
    lo = hi // 2  # ok(lo) is False unless lo == 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return max(hi, 1)


def additional_reviews_needed(
    successes: float,
    n: int,
    target_half_width: float,
    *,
    confidence: float = 0.95,
    method: ProportionMethod | str = "wilson",
) -> int:
    """How many more reviews until the interval half-width reaches the target, for a study under way.

    Assumes the agreement observed so far (p̂ = successes/n) persists: returns
    max(0, required_sample_size(p̂, target) - n). It is a planning figure, not a promise: with more data
    p̂ moves and the figure is recomputed.
    """
    _check_count(successes, n)
    needed = required_sample_size(successes / n, target_half_width, confidence=confidence, method=method)
    return max(0, needed - int(n))
