"""What the statistics raise on input they cannot be computed from, and the confidence-level check they share."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from scipy.stats import norm


class StatsInputError(ValueError):
    """Input a statistic cannot be computed from; the message says what and where."""


class EmptyInputError(StatsInputError):
    """No data at all (no reviews, no units, no coders)."""


class LengthMismatchError(StatsInputError):
    """Paired inputs of different lengths, or ragged reliability data."""


class OutOfScaleError(StatsInputError):
    """A rating that is not on the declared scale."""


def confidence_z(confidence: float) -> float:
    """z = Φ⁻¹(1 - (1 - confidence)/2), the two-sided normal quantile; raises unless 0 < confidence < 1."""
    if not 0.0 < confidence < 1.0:
        raise StatsInputError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return normal_quantile(0.5 + confidence / 2.0)


@functools.lru_cache(maxsize=256)
def normal_quantile(q: float) -> float:
    """Φ⁻¹(q), remembered: scipy's ppf costs milliseconds a call and a report asks for the same few quantiles."""
    return float(norm.ppf(q))


def check_whole(value: Any, what: str) -> int:
    """``value`` as an int when it is a finite whole number (5, 5.0, np.int64(5)); raises naming it otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StatsInputError(f"{what} must be a whole number, got {value!r}") from None
    if not np.isfinite(number) or not number.is_integer():
        raise StatsInputError(f"{what} must be a finite whole number, got {value!r}")
    return int(number)


def check_count_table(table: Any, what: str = "contingency table") -> np.ndarray:
    """A table of counts as float64, refusing NaN, infinities, negative and fractional cells with the first
    offending cell's position and value (one such cell would turn every derived figure into NaN silently)."""
    try:
        arr = np.asarray(table, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatsInputError(f"{what} must hold numbers") from None
    for test, kind in (
        (~np.isfinite(arr), "a non-finite"),
        (arr < 0, "a negative"),
        (arr != np.floor(arr), "a fractional"),
    ):
        with np.errstate(invalid="ignore"):
            bad = np.argwhere(test)
        if bad.size:
            pos = tuple(int(i) for i in bad[0])
            raise StatsInputError(f"{what} has {kind} count {arr[pos]!r} at {pos}; counts are whole numbers ≥ 0")
    return arr
