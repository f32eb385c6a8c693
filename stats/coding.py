"""Reliability data as integer codes: coders x units in, one code per rating out, missing ratings marked.

Reliability data is ``coders x units`` (one row per coder, one column per unit), with ``None``, NaN, ``pd.NA`` or
``pd.NaT`` for a missing rating (see :func:`is_missing`), as in Krippendorff (2011) and the ``krippendorff``
package. Alpha and the kappas share this coding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError, StatsInputError


def is_missing(v: Any) -> bool:
    """A missing rating: ``None``, any float NaN (Python, ``np.float32``/``np.float64``), ``pd.NA``, ``pd.NaT`` or
    NumPy's ``NaT``; set-valued and other ratings are never missing."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(v))
    return False


def as_rows(reliability_data: Any, what: str = "reliability data") -> list[list[Any]]:
    """Coders x units as a list of lists; raises on empty or ragged input."""
    if isinstance(reliability_data, np.ndarray):
        if reliability_data.ndim != 2:
            raise LengthMismatchError(f"{what} must be 2-D (coders x units), got shape {reliability_data.shape}")
        rows = [list(r) for r in reliability_data.tolist()]
    else:
        try:
            rows = [list(r) for r in reliability_data]
        except TypeError as exc:
            raise StatsInputError(f"{what} must be a sequence of coder rows (coders x units): {exc}") from None
    if not rows or not rows[0]:
        raise EmptyInputError(f"{what} is empty: no coders or no units (no reviews?)")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise LengthMismatchError(f"{what}: coder row {i} has {len(r)} units, row 0 has {width}")
    return rows


def encode(rows: list[list[Any]], domain: Sequence[Any] | None, what: str) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Integer codes (coders x units, -1 = missing) and the ordered list of values they index."""
    if domain is not None:
        values = list(domain)
        index = {v: i for i, v in enumerate(values)}
        if len(index) != len(values):
            raise StatsInputError(f"the scale has repeated values: {values!r}")
    else:
        seen = {v for r in rows for v in r if not is_missing(v)}
        if seen and all(isinstance(v, frozenset) for v in seen):
            values = sorted(seen, key=lambda s: (len(s), sorted(map(repr, s))))
        else:
            try:
                values = sorted(seen)
            except TypeError:
                values = sorted(seen, key=repr)
        index = {v: i for i, v in enumerate(values)}
    codes = np.full((len(rows), len(rows[0])), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if is_missing(v):
                continue
            try:
                codes[i, j] = index[v]
            except KeyError:
                raise OutOfScaleError(
                    f"{what}: coder {i}, unit {j} has {v!r}, which is not on the scale {values!r}"
                ) from None
            except TypeError:
                raise StatsInputError(f"{what}: coder {i}, unit {j} has an unhashable value {v!r}") from None
    return codes, values


def value_counts(codes: npt.NDArray[np.int64], n_values: int) -> sparse.csr_matrix:
    """Units x values matrix: how many coders gave each value to each unit."""
    k, n = codes.shape
    present = codes >= 0
    unit = np.broadcast_to(np.arange(n), (k, n))[present]
    return sparse.csr_matrix(
        (np.ones(unit.size, dtype=np.float64), (unit, codes[present])), shape=(n, max(n_values, 1))
    )
