"""What the statistics raise on input they cannot be computed from, and the confidence-level check they share."""

from __future__ import annotations

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
    return float(norm.ppf(0.5 + confidence / 2.0))
