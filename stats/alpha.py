"""Krippendorff's alpha for coders x units with missing ratings, at every level of measurement, with an interval."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from stats.bootstrap import (
    DEFAULT_BOOT,
    BootstrapCI,
    bootstrap_ci,
    check_boot,
    design_weights,
    flag_approximate,
    minority_share,
)
from stats.coding import as_rows, encode, is_missing, value_counts
from stats.errors import OutOfScaleError, StatsInputError
from stats.result import Result
from stats.sets import as_set, set_distance_from_sizes

__all__ = ["AlphaResult", "krippendorff_alpha"]


@dataclass(frozen=True)
class AlphaResult(Result):
    """Krippendorff's alpha; ``value`` is None when undefined and ``reason`` says why."""

    value: float | None
    level: str
    n_units: int
    n_pairable_units: int
    n_pairable_values: int
    n_coders: int
    observed_disagreement: float | None
    expected_disagreement: float | None
    reason: str | None = None
    ci: BootstrapCI | None = None


AlphaLevel = Literal["nominal", "ordinal", "interval", "ratio", "masi", "jaccard"]
_LEVELS = ("nominal", "ordinal", "interval", "ratio", "masi", "jaccard")
_SET_LEVELS = ("masi", "jaccard")


class _Metric:
    """Distances between coded values: per pair (vectorised) and summed against value frequencies."""

    def __init__(self, level: str, values: list[Any]) -> None:
        self.level = level
        self.v = len(values)
        if level in ("interval", "ratio"):
            self.x = np.asarray(values, dtype=np.float64)
        if level in _SET_LEVELS:
            labels = sorted({lab for s in values for lab in s}, key=repr)
            lab_index = {lab: i for i, lab in enumerate(labels)}
            rows = [i for i, s in enumerate(values) for _ in s]
            cols = [lab_index[lab] for s in values for lab in s]
            self.member = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.v, max(len(labels), 1)))
            self.size = np.asarray([len(s) for s in values], dtype=np.float64)
            shared = (self.member @ self.member.T).tocoo()
            sim = 1.0 - set_distance_from_sizes(self.size[shared.row], self.size[shared.col], shared.data, level)
            self.similarity = sparse.csr_matrix((sim, (shared.row, shared.col)), shape=(self.v, self.v))
            empties = [i for i, s in enumerate(values) if not s]
            self.empty = empties[0] if empties else None

    def pairs(self, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        if self.level == "nominal":
            return (i != j).astype(np.float64)
        if self.level == "interval":
            return (self.x[i] - self.x[j]) ** 2
        if self.level == "ratio":
            s, d = self.x[i] + self.x[j], self.x[i] - self.x[j]
            return np.divide(d, s, out=np.zeros_like(d), where=s != 0) ** 2
        inter = np.asarray(self.member[i].multiply(self.member[j]).sum(axis=1)).ravel()
        return set_distance_from_sizes(self.size[i], self.size[j], inter, self.level)

    def expected_sum(self, nv: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Σ_c Σ_k n_c n_k δ(c, k) for each row of ``nv`` (draws x values)."""
        if self.level == "nominal":
            tot = nv.sum(axis=1)
            return tot * tot - (nv * nv).sum(axis=1)
        if self.level == "interval":
            s0, s1, s2 = nv.sum(axis=1), nv @ self.x, nv @ (self.x**2)
            return 2.0 * (s0 * s2 - s1 * s1)
        if self.level in _SET_LEVELS:
            # Disjoint sets are at distance 1, so Σ n_c n_k δ = n² - Σ over overlapping pairs of n_c n_k (1 - δ),
            # minus the empty set's pairs with itself (distance 0, yet no shared label).
            tot = nv.sum(axis=1)
            overlap = np.asarray(self.similarity @ nv.T).T
            out = tot * tot - (overlap * nv).sum(axis=1)
            if self.empty is not None:
                out -= nv[:, self.empty] ** 2
            return out
        out = np.zeros(nv.shape[0])
        block = max(1, 4_000_000 // max(self.v, 1))
        for start in range(0, self.v, block):
            rows = np.arange(start, min(start + block, self.v))
            xs, xt = self.x[rows][:, None], self.x[None, :]
            s, d = xs + xt, xs - xt
            dist = np.divide(d, s, out=np.zeros_like(d * s), where=s != 0) ** 2
            out += ((nv @ dist.T) * nv[:, rows]).sum(axis=1)
        return out


def krippendorff_alpha(
    reliability_data: Any,
    *,
    level: AlphaLevel | str = "nominal",
    value_domain: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    interval: str = "bca",
    unit_weights: Sequence[float] | None = None,
) -> AlphaResult:
    """Krippendorff's alpha for coders x units with missing ratings, with a unit-bootstrap interval.

    α = 1 - D_o / D_e = 1 - (n - 1) Σ_ck o_ck δ_ck / Σ_ck n_c n_k δ_ck, where the coincidence matrix
    o_ck = Σ_u (number of c-k pairs in unit u) / (m_u - 1) over units with m_u ≥ 2 ratings, n_c = Σ_k o_ck and
    n = Σ_c n_c (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability", and Content Analysis, 4th
    ed., ch. 12). Distances δ: nominal (c ≠ k); ordinal ((Σ_{g=c..k} n_g - (n_c + n_k)/2)²); interval
    ((c - k)²); ratio (((c - k)/(c + k))²); for set-valued labels (each rating an iterable of labels) ``masi``
    (Passonneau 2006) and ``jaccard``, where every distinct set is a value of the variable.

    Implementation: the package ``krippendorff`` (0.9.0) is the reference these results are tested
    against (Krippendorff's worked example to three decimals, random data to 1e-9, its custom-metric hook
    for MASI/Jaccard). It builds a units x V x V array, which cannot hold set-valued data (V, the number of
    distinct sets, grows with the data) and is rebuilt per bootstrap draw; here observed disagreement is
    summed per unit from coder pairs, so a bootstrap draw is a weighted sum over units (one matrix product
    for all draws) — see bench/bench_validation.py.

    The bootstrap resamples the pairable units (those with two or more ratings); the others carry no
    information about alpha.

    ``value_domain``: the scale; a rating outside it raises :class:`OutOfScaleError`. Ordinal levels need
    an ordered scale (numbers, or ``value_domain`` listing labels in order). ``n_boot=0`` skips the interval.

    Undefined (``value=None`` with ``reason``): no unit has two ratings; only one pairable unit (alpha is 0
    by construction there); no variation among pairable ratings (D_e = 0).
    """
    if level not in _LEVELS:
        raise StatsInputError(f"unknown level {level!r}; choose one of {', '.join(_LEVELS)}")
    check_boot(n_boot, confidence, interval)
    codes, values = _coded(as_rows(reliability_data), level, value_domain)
    n_coders, n_units = codes.shape
    weights = design_weights(unit_weights, n_units)
    counts = value_counts(codes, len(values))
    m_u = np.asarray(counts.sum(axis=1)).ravel()
    pairable = m_u >= 2
    n_pu = int(pairable.sum())
    result = partial(
        AlphaResult,
        level=level,
        n_units=n_units,
        n_pairable_units=n_pu,
        n_pairable_values=int(m_u[pairable].sum()),
        n_coders=n_coders,
    )
    if n_pu < 2:
        reason = (
            "no unit has two or more ratings, so there is nothing to pair"
            if n_pu == 0
            else "only one unit has two or more ratings; alpha is 0 by construction there"
        )
        return result(value=None, observed_disagreement=None, expected_disagreement=None, reason=reason)
    uw = None if weights is None else weights[pairable]
    (alphas, do_all, de_all), draws = _alpha_statistic(
        level, values, codes[:, pairable], counts[pairable], m_u[pairable], uw
    )
    do, de = float(do_all[0]), float(de_all[0])
    if de <= 0:
        return result(
            value=None,
            observed_disagreement=do,
            expected_disagreement=de,
            reason="no variation: every pairable rating is the same, so expected disagreement is 0",
        )
    ci = bootstrap_ci(draws, n_pu, n_boot, confidence, seed, interval, uw)
    share = minority_share(counts[pairable].toarray()) if level in ("nominal", "ordinal") else None
    ci = flag_approximate(ci, n_units=n_pu, minority_share=share)
    return result(value=float(alphas[0]), observed_disagreement=do, expected_disagreement=de, ci=ci)


_Triple = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _coded(
    rows: list[list[Any]], level: str, value_domain: Sequence[Any] | None
) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Integer codes and values for ``level``, after checking the ratings fit it (sets, numbers, an ordered scale)."""
    if level in _SET_LEVELS:
        rows = [
            [None if is_missing(v) else as_set(v, f"coder {i}, unit {j}") for j, v in enumerate(r)]
            for i, r in enumerate(rows)
        ]
        if value_domain is not None:
            allowed = set(value_domain)
            for i, r in enumerate(rows):
                for j, s in enumerate(r):
                    if s is not None and not s <= allowed:
                        raise OutOfScaleError(
                            f"coder {i}, unit {j} has labels {sorted(s - allowed, key=repr)!r} not on the scale"
                        )
        return encode(rows, None, "reliability data")
    codes, values = encode(rows, value_domain, "reliability data")
    if level in ("interval", "ratio"):
        try:
            numeric = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise StatsInputError(f"{level} alpha needs numeric ratings, got {values!r}") from None
        if level == "ratio" and (numeric < 0).any():
            raise OutOfScaleError(f"ratio alpha needs non-negative ratings, got {numeric.min()}")
    if level == "ordinal" and value_domain is None:
        try:
            np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise StatsInputError("ordinal alpha on labels needs value_domain listing the scale in order") from None
    return codes, values


def _alpha_statistic(
    level: str,
    values: list[Any],
    codes_p: npt.NDArray[np.int64],
    counts_p: sparse.csr_matrix,
    m_p: npt.NDArray[np.float64],
    unit_weights: npt.NDArray[np.float64] | None = None,
) -> tuple[_Triple, Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]]:
    """(alpha, D_o, D_e) on the pairable units (weighted by ``unit_weights`` when given), and alpha as a function
    of unit weights (for the bootstrap)."""
    n_pu = len(m_p)
    point_w = np.ones((1, n_pu)) if unit_weights is None else unit_weights[None, :]
    if level == "ordinal":
        if len(values) > _MAX_ORDINAL:
            raise StatsInputError(
                f"ordinal alpha supports up to {_MAX_ORDINAL} scale points, got {len(values)}; use interval"
            )
        flat = _ordinal_unit_coincidences(counts_p, m_p)
        return _ordinal_alpha(flat, point_w), lambda w: _ordinal_alpha(flat, w)[0]
    metric = _Metric(level, values)
    per_unit = _per_unit_disagreement(codes_p, m_p, metric)
    nv = np.asarray(counts_p.T @ point_w.T).T
    point = _alpha_from_sums(point_w @ per_unit, nv, metric)
    return point, lambda w: _alpha_from_sums(w @ per_unit, np.asarray(counts_p.T @ w.T).T, metric)[0]


def _per_unit_disagreement(
    codes: npt.NDArray[np.int64], m_u: npt.NDArray[np.float64], metric: _Metric
) -> npt.NDArray[np.float64]:
    """Σ over ordered pairs of ratings in the unit of δ, divided by m_u - 1 (the unit's share of n·D_o)."""
    k = codes.shape[0]
    total = np.zeros(codes.shape[1])
    for a in range(k):
        for b in range(a + 1, k):
            both = (codes[a] >= 0) & (codes[b] >= 0)
            if both.any():
                total[both] += 2.0 * metric.pairs(codes[a, both], codes[b, both])
    return total / (m_u - 1)


def _alpha_from_sums(
    observed: npt.NDArray[np.float64], nv: npt.NDArray[np.float64], metric: _Metric
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """α per row from Σ_u (unit disagreement) and value frequencies n_c (rows = bootstrap draws)."""
    n = nv.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        do = observed / n
        de = metric.expected_sum(nv) / (n * (n - 1))
        alpha = np.where(de > 0, 1.0 - do / np.where(de > 0, de, 1.0), np.nan)
    return alpha, do, de


_MAX_ORDINAL = 200


def _ordinal_unit_coincidences(counts: sparse.csr_matrix, m_u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each unit's coincidences (n_u n_uᵀ - diag n_u)/(m_u - 1), flattened: units x V²."""
    dense = counts.toarray()
    v = dense.shape[1]
    per_unit = (dense[:, :, None] * dense[:, None, :] - dense[:, :, None] * np.eye(v)[None]) / (m_u - 1)[:, None, None]
    return per_unit.reshape(len(m_u), v * v)


def _ordinal_alpha(
    flat: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Ordinal α per row of weights: the distance depends on the marginal frequencies, so it is rebuilt per
    draw from the weighted coincidence matrix (draws x V x V)."""
    v = math.isqrt(flat.shape[1])
    o = (weights @ flat).reshape(-1, v, v)
    nv = o.sum(axis=2)
    cum = np.cumsum(nv, axis=1)
    dist = (cum[:, None, :] - cum[:, :, None] + (nv[:, :, None] - nv[:, None, :]) / 2.0) ** 2
    n = nv.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        do = (o * dist).sum(axis=(1, 2)) / n
        de = (nv[:, :, None] * nv[:, None, :] * dist).sum(axis=(1, 2)) / (n * (n - 1))
        alpha = np.where(de > 0, 1.0 - do / np.where(de > 0, de, 1.0), np.nan)
    return alpha, do, de
