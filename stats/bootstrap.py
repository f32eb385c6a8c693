"""Unit bootstrap: a statistic's percentile interval over resamples of the units, all draws at once.

Intervals resample *units* with replacement (the unit is the sampling unit of a review study), seeded with
``numpy.random.default_rng(seed)``, ``n_boot`` draws (1,000 by default), percentile interval; draws where the
statistic is undefined are dropped and counted (Efron & Tibshirani 1993, ch. 13; for alpha and kappa see Zapf et
al. 2016, BMC Med Res Methodol 16:93).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

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


def bootstrap_ci(
    compute: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    n_units: int,
    n_boot: int,
    confidence: float,
    seed: int,
) -> BootstrapCI | None:
    """Percentile interval of ``compute`` over unit resamples (see :func:`bootstrap_draws`); None if ``n_boot`` is 0."""
    if n_boot <= 0:
        return None
    return percentile_ci(bootstrap_draws(compute, n_units, n_boot, seed), confidence, n_boot, seed)


def check_boot(n_boot: int, confidence: float) -> None:
    if n_boot < 0:
        raise StatsInputError(f"n_boot must be ≥ 0, got {n_boot}")
    confidence_z(confidence)
