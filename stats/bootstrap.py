"""Unit bootstrap: a statistic's interval over resamples of the units, all draws at once.

Intervals resample *units* with replacement (the unit is the sampling unit of a review study), seeded with
``numpy.random.default_rng(seed)``, ``n_boot`` draws (1,000 by default), BCa interval (percentile on request, which
undercovers with skewed prevalence; BCa's coverage by design, prevalence and units: bench/bench_reliability.py);
draws where the statistic is undefined are dropped and counted (Efron & Tibshirani 1993, ch. 13; for alpha and
kappa see Zapf et al. 2016, BMC Med Res Methodol 16:93).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from stats.errors import StatsInputError, confidence_z
from stats.result import Result

DEFAULT_BOOT = 1000


@dataclass(frozen=True)
class BootstrapCI(Result):
    low: float
    high: float
    confidence: float
    n_boot: int
    n_valid: int
    seed: int
    method: str = "percentile, units resampled"
    approximate: bool = False
    note: str | None = None


_BOOT_CELLS = 4_000_000  # draws x units held in memory at once


def bootstrap_draws(
    compute: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]], n_units: int, n_boot: int, seed: int
) -> npt.NDArray[np.float64]:
    """The statistic on ``n_boot`` resamples of the units, computed a chunk of draws at a time.

    ``compute`` takes weights (draws x units: how often each unit is drawn in each resample) and returns one
    value per draw; a weighted sum over units is then one matrix product for all draws of the chunk. Draw b
    uses the units ``numpy.random.default_rng(seed).integers(0, n_units, size=(n_boot, n_units))[b]``,
    whatever the chunking, so a naive loop over those indices reproduces every draw."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _BOOT_CELLS // max(n_units, 1)))
    out: list[npt.NDArray[np.float64]] = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n_units, size=(b, n_units))
        flat = (idx + (np.arange(b) * n_units)[:, None]).ravel()
        weights = np.bincount(flat, minlength=b * n_units).reshape(b, n_units).astype(np.float64)
        out.append(np.asarray(compute(weights), dtype=np.float64))
        done += b
    return np.concatenate(out)


def percentile_ci(draws: npt.NDArray[np.float64], confidence: float, n_boot: int, seed: int) -> BootstrapCI:
    valid = draws[np.isfinite(draws)]
    if valid.size == 0:
        return BootstrapCI(low=math.nan, high=math.nan, confidence=confidence, n_boot=n_boot, n_valid=0, seed=seed)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(valid, [a, 1 - a])
    return BootstrapCI(
        low=float(lo), high=float(hi), confidence=confidence, n_boot=n_boot, n_valid=int(valid.size), seed=seed
    )


def bca_ci(
    draws: npt.NDArray[np.float64],
    estimate: float,
    jackknife: npt.NDArray[np.float64],
    confidence: float,
    n_boot: int,
    seed: int,
) -> BootstrapCI:
    """Bias-corrected and accelerated (BCa) interval (Efron 1987, JASA 82:171-185; Efron & Tibshirani 1993,
    ch. 14): the quantiles of the draws at α₁ = Φ(z₀ + (z₀ + z_a)/(1 - â(z₀ + z_a))) and α₂ (same with z_{1-a}),
    bias correction z₀ = Φ⁻¹(#{θ* < θ̂}/B + #{θ* = θ̂}/2B) and acceleration
    â = Σ (θ̄₍.₎ - θ₍ᵢ₎)³ / (6 (Σ (θ̄₍.₎ - θ₍ᵢ₎)²)^{3/2}) from the leave-one-unit-out values θ₍ᵢ₎."""
    valid = draws[np.isfinite(draws)]
    jack = jackknife[np.isfinite(jackknife)]
    if valid.size == 0:
        return BootstrapCI(math.nan, math.nan, confidence, n_boot, 0, seed, method=BCA)
    share = (np.sum(valid < estimate) + 0.5 * np.sum(valid == estimate)) / valid.size
    z0 = float(norm.ppf(min(max(share, 0.5 / valid.size), 1 - 0.5 / valid.size)))
    dev = jack.mean() - jack if jack.size else np.zeros(1)
    denom = 6.0 * float((dev**2).sum()) ** 1.5
    accel = float((dev**3).sum()) / denom if denom > 0 else 0.0
    z = confidence_z(confidence)
    levels = [float(norm.cdf(z0 + (z0 + q) / (1 - accel * (z0 + q)))) for q in (-z, z)]
    lo, hi = np.quantile(valid, levels)
    return BootstrapCI(float(lo), float(hi), confidence, n_boot, int(valid.size), seed, method=BCA)


BCA = "BCa, units resampled"
INTERVALS = ("bca", "percentile")


def bootstrap_ci(
    compute: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    n_units: int,
    n_boot: int,
    confidence: float,
    seed: int,
    interval: str = "bca",
    unit_weights: npt.NDArray[np.float64] | None = None,
) -> BootstrapCI | None:
    """Interval of ``compute`` over unit resamples (see :func:`bootstrap_draws`): BCa (default; the jackknife
    leaves out one unit at a time, a weight of 0) or percentile; None if ``n_boot`` is 0.

    ``unit_weights`` (design weights 1/π_i, see :func:`design_weights`): each resampled unit carries its weight,
    the with-replacement bootstrap of a weighted statistic (Rao & Wu 1988, JASA 83:231-241, which is
    conservative for a without-replacement sample)."""
    if n_boot <= 0:
        return None
    if unit_weights is not None:
        plain, uw = compute, unit_weights

        def compute(w: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return plain(w * uw)

    draws = bootstrap_draws(compute, n_units, n_boot, seed)
    if interval == "percentile":
        return percentile_ci(draws, confidence, n_boot, seed)
    estimate = float(np.asarray(compute(np.ones((1, n_units))))[0])
    block = max(1, _BOOT_CELLS // max(n_units, 1))
    parts = []
    for start in range(0, n_units, block):
        rows = np.arange(start, min(start + block, n_units))
        weights = np.ones((rows.size, n_units))
        weights[np.arange(rows.size), rows] = 0.0
        parts.append(np.asarray(compute(weights), dtype=np.float64))
    jack = np.concatenate(parts)
    return bca_ci(draws, estimate, jack, confidence, n_boot, seed)


def design_weights(values: npt.ArrayLike | None, n_units: int) -> npt.NDArray[np.float64] | None:
    """Checked per-unit design weights (1/π_i of a probability sample), scaled to mean 1 so weighted counts stay
    on the sample's scale (alpha's n - 1); None for a self-weighting sample."""
    if values is None:
        return None
    w = np.asarray(values, dtype=np.float64).ravel()
    if w.size != n_units:
        raise StatsInputError(f"{n_units} units but {w.size} unit weights")
    bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))
    if bad.size:
        raise StatsInputError(f"unit weight {bad[0]} is {w[bad[0]]!r}; weights must be finite and positive")
    return w / w.mean() if w.size else w


# Below these the BCa interval's coverage falls short of the nominal level (bench/bench_reliability.py).
MIN_UNITS = 50
MIN_MINORITY_SHARE = 0.1


def flag_approximate(ci: BootstrapCI | None, *, n_units: int, minority_share: float | None) -> BootstrapCI | None:
    """Mark ``ci`` approximate, saying why, with fewer than :data:`MIN_UNITS` units or when the rarest category
    used holds less than :data:`MIN_MINORITY_SHARE` of the ratings (extreme prevalence)."""
    if ci is None:
        return None
    why = []
    if n_units < MIN_UNITS:
        why.append(f"{n_units} units, fewer than {MIN_UNITS}")
    if minority_share is not None and minority_share < MIN_MINORITY_SHARE:
        why.append(f"the rarest category holds {minority_share:.1%} of the ratings")
    if not why:
        return ci
    note = f"approximate: {'; '.join(why)}, where the interval can cover less than {ci.confidence:.0%}"
    return dataclasses.replace(ci, approximate=True, note=note)


def minority_share(counts: npt.NDArray[np.float64]) -> float | None:
    """The smallest share among the categories used (column totals of a units x categories table)."""
    totals = np.asarray(counts, dtype=np.float64).sum(axis=0).ravel()
    used = totals[totals > 0]
    return float(used.min() / used.sum()) if used.size >= 2 else None


def check_boot(n_boot: int, confidence: float, interval: str = "bca") -> None:
    if interval not in INTERVALS:
        raise StatsInputError(f"unknown bootstrap interval {interval!r}; choose one of {', '.join(INTERVALS)}")
    if n_boot < 0:
        raise StatsInputError(f"n_boot must be ≥ 0, got {n_boot}")
    confidence_z(confidence)
