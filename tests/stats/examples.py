"""Published reliability data shared by the alpha, kappa and bootstrap tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from stats.alpha import AlphaResult
from stats.kappa import CoefficientResult

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four observers, twelve units,
# missing values. Published: nominal .743, ordinal .815, interval .849, ratio .797.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
KRIPPENDORFF_PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def value_of(res: AlphaResult | CoefficientResult) -> float:
    assert res.value is not None, res.reason
    return res.value


def to_nan(data: list[list[Any]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
