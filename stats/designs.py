"""Design-based estimates of a share from a probability sample: every reviewed unit carries its inclusion
probability π_i (the chance the sampling design gave it to be drawn), and the estimate weighs it by 1/π_i.

* Simple random sample (all π equal, one stratum): the plain share with Wilson's interval
  (:func:`stats.proportions.proportion_ci`), which reproduces the paper's Appendix A.4.
* Unequal probabilities (Poisson / uncertainty-weighted sampling): the Hájek ratio estimator
  p̂ = Σ y_i/π_i / Σ 1/π_i (Hájek 1971; Särndal, Swensson & Wretman 1992, *Model Assisted Survey Sampling*,
  §5.7), with the linearised variance for Poisson sampling V̂ = Σ (1 - π_i) (y_i - p̂)² / π_i² / N̂², N̂ = Σ 1/π_i
  (ibid., eq. 5.7.7 with Poisson's Δ_ij = 0 for i ≠ j).
* Stratified simple random samples (proportional or not): p̂ = Σ_h W_h p̂_h, W_h = N_h / N the strata's
  population shares, with V(p̂) = Σ_h W_h² (1 - n_h/N_h) p_h(1 - p_h) / n_h (Cochran 1977, *Sampling Techniques*,
  3rd ed., §5.3). The interval inverts the score test, as Wilson's does, with each stratum's proportion shifted
  with p (Yan & Su 2010, Stat Biopharm Res 2:329-335, for stratified Wilson intervals): a plug-in variance
  undercovers (91.8% in bench/bench_designs.py) because a stratum whose reviews were all correct claims none.

The Hájek interval is Wilson's at the effective sample size n_eff = p̂(1 - p̂)/V̂ (Kish 1965's design effect;
Korn & Graubard 1998, Survey Methodology 24:193-201, and Dean & Pagano 2015, J Surv Stat Methodol 3:17-31, on
Wilson with n_eff for complex samples): it stays within [0, 1]. When p̂ is 0 or 1 the variance estimate is 0
and n_eff is taken as the number of units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError, confidence_z
from stats.proportions import proportion_ci
from stats.result import Result

__all__ = ["DesignEstimate", "design_share"]

SIMPLE_RANDOM = "simple random"
STRATIFIED = "stratified"
UNEQUAL = "unequal probabilities (Poisson)"


@dataclass(frozen=True)
class DesignEstimate(Result):
    """A share estimated for the population the sample was drawn from, and how."""

    design: str
    weights: str
    n: int
    estimate: float
    low: float
    high: float
    half_width: float
    confidence: float
    method: str
    effective_n: float
    population_size: float
    approximate: bool = False
    note: str | None = None


def _inputs(
    y: Sequence[Any], pi: Sequence[Any], strata: Sequence[Any] | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[Any] | None]:
    yy = np.asarray(y, dtype=np.float64)
    pp = np.asarray(pi, dtype=np.float64)
    if yy.size == 0:
        raise EmptyInputError("no reviewed units to estimate from (no reviews?)")
    if yy.shape != pp.shape or yy.ndim != 1:
        raise LengthMismatchError(f"{yy.size} outcomes but {pp.size} inclusion probabilities")
    bad = np.flatnonzero(~np.isin(yy, (0.0, 1.0)))
    if bad.size:
        raise OutOfScaleError(f"outcome {bad[0]} is {y[bad[0]]!r}; expected 0/1 (correct or not)")
    bad = np.flatnonzero(~(np.isfinite(pp) & (pp > 0) & (pp <= 1)))
    if bad.size:
        raise OutOfScaleError(f"inclusion probability of unit {bad[0]} is {pi[bad[0]]!r}; must be within (0, 1]")
    ss = None if strata is None else np.asarray([str(s) for s in strata], dtype=object)
    if ss is not None and ss.size != yy.size:
        raise LengthMismatchError(f"{yy.size} outcomes but {ss.size} strata")
    return yy, pp, ss


def _wilson_at(estimate: float, variance: float, n: int, confidence: float) -> tuple[float, float, float, float]:
    """Wilson's interval around ``estimate`` at n_eff = p̂(1 - p̂)/V̂ (n when V̂ = 0): (low, high, half, n_eff)."""
    z = confidence_z(confidence)
    n_eff = float(n) if variance <= 0 or estimate in (0.0, 1.0) else estimate * (1 - estimate) / variance
    centre = (estimate + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    spread = z * np.sqrt(estimate * (1 - estimate) / n_eff + z * z / (4 * n_eff * n_eff)) / (1 + z * z / n_eff)
    low, high = max(0.0, centre - spread), min(1.0, centre + spread)
    return low, high, (high - low) / 2, n_eff


def _stratified(
    y: npt.NDArray[np.float64],
    pi: npt.NDArray[np.float64],
    strata: npt.NDArray[Any],
    sizes: Mapping[str, float] | None,
    z: float,
) -> tuple[float, float, float, float, float]:
    """(p̂, low, high, n_eff, N) of a stratified simple random sample: the score interval {p : (p̂ - p)² ≤ z² V(p)}
    with V(p) = Σ_h W_h² (1 - n_h/N_h) q_h(1 - q_h)/n_h and q_h = p̂_h + (p - p̂) clipped to [0, 1], so a stratum
    whose reviews were all correct still contributes variance (with one stratum this is Wilson's interval)."""
    names = sorted(set(strata))
    n_pop = np.array([float(sizes[h]) if sizes and h in sizes else float((1 / pi[strata == h]).sum()) for h in names])
    n_h = np.array([float((strata == h).sum()) for h in names])
    p_h = np.array([float(y[strata == h].mean()) for h in names])
    w_h = n_pop / n_pop.sum()
    coef = w_h * w_h * np.maximum(0.0, 1 - n_h / n_pop) / n_h
    estimate = float((w_h * p_h).sum())

    def gap(p: float) -> float:
        q = np.clip(p_h + p - estimate, 0.0, 1.0)
        return (estimate - p) ** 2 - z * z * float((coef * q * (1 - q)).sum())

    low = brentq(gap, 0.0, estimate) if estimate > 0 and gap(0.0) > 0 else 0.0
    high = brentq(gap, estimate, 1.0) if estimate < 1 and gap(1.0) > 0 else 1.0
    variance = float((coef * p_h * (1 - p_h)).sum())
    n_eff = estimate * (1 - estimate) / variance if variance > 0 else float(y.size)
    return estimate, float(low), float(high), n_eff, float(n_pop.sum())


def design_share(
    y: Sequence[Any],
    inclusion_probabilities: Sequence[Any],
    *,
    strata: Sequence[Any] | None = None,
    stratum_sizes: Mapping[str, float] | None = None,
    confidence: float = 0.95,
) -> DesignEstimate:
    """The population share of units with y = 1 from a probability sample (formulas in the module docstring).

    ``strata`` marks a stratified simple random sample (π_i = n_h/N_h within a stratum); ``stratum_sizes`` gives
    the N_h (else N̂_h = Σ 1/π_i over the stratum's reviewed units). Without strata, equal π_i is a simple random
    sample (Wilson) and unequal π_i is treated as Poisson sampling (Hájek).
    """
    yy, pp, ss = _inputs(y, inclusion_probabilities, strata)
    confidence_z(confidence)
    n = int(yy.size)
    if ss is not None and len(set(ss)) > 1:
        estimate, low, high, n_eff, total = _stratified(yy, pp, ss, stratum_sizes, confidence_z(confidence))
        return DesignEstimate(
            STRATIFIED, "N_h / n_h per unit (strata combined by population shares)", n, estimate, low, high,
            (high - low) / 2, confidence, "stratified mean; stratified score (Wilson-type) interval", n_eff, total,
        )  # fmt: skip
    if np.ptp(pp) <= 1e-12 * pp.max():
        ci = proportion_ci(int(yy.sum()), n, confidence=confidence)
        return DesignEstimate(
            SIMPLE_RANDOM, "equal (self-weighting)", n, ci.estimate, ci.low, ci.high, ci.half_width, confidence,
            "wilson", float(n), float(n / pp[0]),
        )  # fmt: skip
    w = 1.0 / pp
    total = float(w.sum())
    estimate = float((w * yy).sum() / total)
    variance = float(((1 - pp) * w * w * (yy - estimate) ** 2).sum() / (total * total))
    low, high, half, n_eff = _wilson_at(estimate, variance, n, confidence)
    return DesignEstimate(
        UNEQUAL, "1/π per unit (Hájek)", n, estimate, low, high, half, confidence,
        "Hájek ratio, Poisson linearised variance; Wilson at the effective sample size", n_eff, total,
    )  # fmt: skip
