"""Validation statistics: agreement with confidence intervals, inter-rater reliability, paired comparison.

Pure module (no Django): sequences and arrays in, frozen dataclasses out. Every public function states its
formula and a reference. Undefined statistics (no variation, nothing to pair) come back as ``value=None`` with a
``reason``; bad input raises a :class:`StatsInputError` (a ``ValueError``) that names what and where.

Conventions
-----------
* Reliability data is ``coders x units`` (one row per coder, one column per unit), ``None`` (or NaN) for a
  missing rating, as in Krippendorff (2011) and the ``krippendorff`` package.
* Bootstrap intervals resample *units* with replacement (the unit is the sampling unit of a review study),
  seeded with ``numpy.random.default_rng(seed)``, ``n_boot`` draws (1,000 by default), percentile interval;
  draws where the statistic is undefined are dropped and counted (Efron & Tibshirani 1993, ch. 13; for alpha
  and kappa see Zapf et al. 2016, BMC Med Res Methodol 16:93).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.stats import beta as beta_dist
from scipy.stats import binom, norm
from statsmodels.stats.multitest import multipletests

__all__ = [
    "AlphaResult",
    "BootstrapCI",
    "CoefficientResult",
    "EmptyInputError",
    "HolmResult",
    "LengthMismatchError",
    "McNemarResult",
    "OutOfScaleError",
    "ProportionCI",
    "SetAgreement",
    "StatsInputError",
    "additional_reviews_needed",
    "cohen_kappa",
    "fleiss_kappa",
    "gwet_ac1",
    "holm_correction",
    "jaccard_distance",
    "krippendorff_alpha",
    "masi_distance",
    "mcnemar_exact",
    "paired_sample_size",
    "percent_agreement",
    "proportion_ci",
    "required_sample_size",
    "set_agreement",
]

DEFAULT_BOOT = 1000

# --------------------------------------------------------------------------------------------- errors


class StatsInputError(ValueError):
    """Input a statistic cannot be computed from; the message says what and where."""


class EmptyInputError(StatsInputError):
    """No data at all (no reviews, no units, no coders)."""


class LengthMismatchError(StatsInputError):
    """Paired inputs of different lengths, or ragged reliability data."""


class OutOfScaleError(StatsInputError):
    """A rating that is not on the declared scale."""


# --------------------------------------------------------------------------------------------- results


class _Result:
    """What every result shares: ``as_dict()``, nested results and tuples turned into dicts and lists (for JSON)."""

    def as_dict(self) -> dict[str, Any]:
        return _asdict(self)


@dataclass(frozen=True)
class ProportionCI(_Result):
    successes: float
    n: int
    estimate: float
    low: float
    high: float
    half_width: float
    confidence: float
    method: str


@dataclass(frozen=True)
class BootstrapCI(_Result):
    low: float
    high: float
    confidence: float
    n_boot: int
    n_valid: int
    seed: int
    method: str = "percentile, units resampled"


@dataclass(frozen=True)
class AlphaResult(_Result):
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


@dataclass(frozen=True)
class CoefficientResult(_Result):
    """A chance-corrected agreement coefficient (kappa, AC1) or percent agreement."""

    name: str
    value: float | None
    observed_agreement: float | None
    chance_agreement: float | None
    n_units: int
    n_categories: int
    reason: str | None = None
    ci: BootstrapCI | None = None


@dataclass(frozen=True)
class McNemarResult(_Result):
    n: int
    both_correct: int
    only_a_correct: int
    only_b_correct: int
    both_incorrect: int
    accuracy_a: float
    accuracy_b: float
    difference: float
    difference_low: float
    difference_high: float
    p_value: float
    confidence: float
    difference_method: str = "Newcombe (1998) method 10, score-based, paired"


@dataclass(frozen=True)
class HolmResult(_Result):
    names: tuple[str, ...]
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    reject: tuple[bool, ...]
    alpha: float


@dataclass(frozen=True)
class SetAgreement(_Result):
    """Agreement between machine and reviewer value sets over n pairs."""

    n: int
    exact_match: float
    mean_jaccard: float
    mean_masi: float


def _asdict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in obj.__dataclass_fields__:
        val = getattr(obj, key)
        out[key] = val.as_dict() if hasattr(val, "as_dict") else (list(val) if isinstance(val, tuple) else val)
    return out


# --------------------------------------------------------------------------------------------- proportions

ProportionMethod = Literal["wilson", "clopper-pearson", "agresti-coull", "wald"]
_PROPORTION_METHODS = ("wilson", "clopper-pearson", "agresti-coull", "wald")


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise StatsInputError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return float(norm.ppf(0.5 + confidence / 2.0))


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
    z = _z(confidence)
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
    if n is None or n <= 0:
        raise EmptyInputError(f"n must be a positive number of reviewed items, got {n!r} (no reviews?)")
    if successes < 0 or successes > n:
        raise OutOfScaleError(f"successes must be within 0..n={n}, got {successes!r}")


def _half_width(expected: float, n: npt.NDArray[np.float64], confidence: float, method: str) -> np.ndarray:
    low, high = _interval(expected * n, n, _z(confidence), confidence, method)
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
    _z(confidence)
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


# --------------------------------------------------------------------------------------------- coding helpers


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    return isinstance(v, float) and math.isnan(v)


def _as_rows(reliability_data: Any, what: str = "reliability data") -> list[list[Any]]:
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


def _encode(rows: list[list[Any]], domain: Sequence[Any] | None, what: str) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Integer codes (coders x units, -1 = missing) and the ordered list of values they index."""
    if domain is not None:
        values = list(domain)
        index = {v: i for i, v in enumerate(values)}
        if len(index) != len(values):
            raise StatsInputError(f"the scale has repeated values: {values!r}")
    else:
        seen = {v for r in rows for v in r if not _is_missing(v)}
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
            if _is_missing(v):
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


def _value_counts(codes: npt.NDArray[np.int64], n_values: int) -> sparse.csr_matrix:
    """Units x values matrix: how many coders gave each value to each unit."""
    k, n = codes.shape
    present = codes >= 0
    unit = np.broadcast_to(np.arange(n), (k, n))[present]
    return sparse.csr_matrix(
        (np.ones(unit.size, dtype=np.float64), (unit, codes[present])), shape=(n, max(n_values, 1))
    )


_BOOT_CELLS = 4_000_000  # draws x units held in memory at once


def _bootstrap(
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


def _percentile_ci(draws: npt.NDArray[np.float64], confidence: float, n_boot: int, seed: int) -> BootstrapCI:
    valid = draws[np.isfinite(draws)]
    if valid.size == 0:
        return BootstrapCI(low=math.nan, high=math.nan, confidence=confidence, n_boot=n_boot, n_valid=0, seed=seed)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(valid, [a, 1 - a])
    return BootstrapCI(
        low=float(lo), high=float(hi), confidence=confidence, n_boot=n_boot, n_valid=int(valid.size), seed=seed
    )


def _bootstrap_ci(
    compute: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    n_units: int,
    n_boot: int,
    confidence: float,
    seed: int,
) -> BootstrapCI | None:
    """Percentile interval of ``compute`` over unit resamples (see :func:`_bootstrap`); None when ``n_boot`` is 0."""
    if n_boot <= 0:
        return None
    return _percentile_ci(_bootstrap(compute, n_units, n_boot, seed), confidence, n_boot, seed)


def _check_boot(n_boot: int, confidence: float) -> None:
    if n_boot < 0:
        raise StatsInputError(f"n_boot must be ≥ 0, got {n_boot}")
    _z(confidence)


# --------------------------------------------------------------------------------------------- set distances


def _as_set(v: Any, where: str) -> frozenset[Any]:
    if isinstance(v, (str, bytes)):
        raise StatsInputError(f"{where}: expected a set of labels, got the string {v!r} (wrap it in a list)")
    try:
        return frozenset(v)
    except TypeError:
        raise StatsInputError(f"{where}: expected a set of labels, got {v!r}") from None


def jaccard_distance(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """1 - |A∩B| / |A∪B| (Jaccard 1912); two empty sets are identical (distance 0)."""
    sa, sb = frozenset(a), frozenset(b)
    union = len(sa | sb)
    return 0.0 if union == 0 else 1.0 - len(sa & sb) / union


def masi_distance(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """MASI distance (Passonneau 2006, LREC): 1 - J·M with J the Jaccard similarity and M the monotonicity
    weight: 1 if A = B, 2/3 if one contains the other, 1/3 if they overlap otherwise, 0 if disjoint.
    Same constants as ``nltk.metrics.distance.masi_distance``; two empty sets are identical (distance 0)."""
    sa, sb = frozenset(a), frozenset(b)
    sizes = np.array([len(sa)]), np.array([len(sb)]), np.array([len(sa & sb)])
    return float(_set_distance_from_sizes(*sizes, "masi")[0])


def _set_distance_from_sizes(
    size_a: npt.NDArray[Any], size_b: npt.NDArray[Any], inter: npt.NDArray[Any], kind: str
) -> npt.NDArray[np.float64]:
    size_a = np.asarray(size_a, dtype=np.float64)
    size_b = np.asarray(size_b, dtype=np.float64)
    inter = np.asarray(inter, dtype=np.float64)
    union = size_a + size_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    if kind == "jaccard":
        return 1.0 - jac
    equal = (size_a == size_b) & (inter == size_a)
    subset = inter == np.minimum(size_a, size_b)
    m = np.where(equal, 1.0, np.where(subset, 2.0 / 3.0, np.where(inter > 0, 1.0 / 3.0, 0.0)))
    return 1.0 - jac * m


# --------------------------------------------------------------------------------------------- Krippendorff's alpha

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
            sim = 1.0 - _set_distance_from_sizes(self.size[shared.row], self.size[shared.col], shared.data, level)
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
        return _set_distance_from_sizes(self.size[i], self.size[j], inter, self.level)

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
    _check_boot(n_boot, confidence)
    rows = _as_rows(reliability_data)
    if level in _SET_LEVELS:
        rows = [
            [None if _is_missing(v) else _as_set(v, f"coder {i}, unit {j}") for j, v in enumerate(r)]
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
        codes, values = _encode(rows, None, "reliability data")
    else:
        codes, values = _encode(rows, value_domain, "reliability data")
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

    n_coders, n_units = codes.shape
    counts = _value_counts(codes, len(values))
    m_u = np.asarray(counts.sum(axis=1)).ravel()
    pairable = m_u >= 2
    counts_p = counts[pairable]
    m_p = m_u[pairable]
    n_pu = int(pairable.sum())
    n_pv = int(m_p.sum())

    def result(
        value: float | None,
        do: float | None = None,
        de: float | None = None,
        *,
        reason: str | None = None,
        ci: BootstrapCI | None = None,
    ) -> AlphaResult:
        return AlphaResult(
            value=value,
            level=level,
            n_units=n_units,
            n_pairable_units=n_pu,
            n_pairable_values=n_pv,
            n_coders=n_coders,
            observed_disagreement=do,
            expected_disagreement=de,
            reason=reason,
            ci=ci,
        )

    if n_pu == 0:
        return result(None, reason="no unit has two or more ratings, so there is nothing to pair")
    if n_pu == 1:
        return result(None, reason="only one unit has two or more ratings; alpha is 0 by construction there")

    if level == "ordinal":
        if len(values) > _MAX_ORDINAL:
            raise StatsInputError(
                f"ordinal alpha supports up to {_MAX_ORDINAL} scale points, got {len(values)}; use interval"
            )
        flat = _ordinal_unit_coincidences(counts_p, m_p)
        alphas, do_all, de_all = _ordinal_alpha(flat, np.ones((1, n_pu)))
    else:
        metric = _Metric(level, values)
        per_unit = _per_unit_disagreement(codes[:, pairable], m_p, metric)
        nv = np.asarray(counts_p.sum(axis=0)).reshape(1, -1)
        alphas, do_all, de_all = _alpha_from_sums(per_unit.sum(keepdims=True), nv, metric)

    de = float(de_all[0])
    do = float(do_all[0])
    if de <= 0:
        return result(
            None, do, de, reason="no variation: every pairable rating is the same, so expected disagreement is 0"
        )

    if level == "ordinal":
        ci = _bootstrap_ci(lambda w: _ordinal_alpha(flat, w)[0], n_pu, n_boot, confidence, seed)
    else:
        ci = _bootstrap_ci(
            lambda w: _alpha_from_sums(w @ per_unit, np.asarray(counts_p.T @ w.T).T, metric)[0],
            n_pu,
            n_boot,
            confidence,
            seed,
        )
    return result(float(alphas[0]), do, de, ci=ci)


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


# --------------------------------------------------------------------------------------------- kappas, AC1


def _category_table(
    reliability_data: Any, categories: Sequence[Any] | None
) -> tuple[npt.NDArray[np.float64], list[Any], npt.NDArray[np.int64]]:
    rows = _as_rows(reliability_data)
    codes, values = _encode(rows, categories, "ratings")
    table = _value_counts(codes, len(values)).toarray()
    return table, values, codes


def percent_agreement(
    reliability_data: Any,
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> CoefficientResult:
    """Mean pairwise percent agreement: P_a = (1/n') Σ_u Σ_k r_uk (r_uk - 1) / (r_u (r_u - 1)) over the n'
    units with r_u ≥ 2 ratings (Fleiss 1971's P̄; Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed., §2)."""
    table, values, _ = _category_table(reliability_data, categories)
    return _ac1_family("percent_agreement", table, len(values), n_boot, confidence, seed)


def gwet_ac1(
    reliability_data: Any,
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> CoefficientResult:
    """Gwet's AC1 for any number of raters with missing ratings (Gwet 2008, Br J Math Stat Psychol 61:29-48).

    AC1 = (P_a - P_e) / (1 - P_e), P_a as in :func:`percent_agreement`, P_e = Σ_k π_k (1 - π_k) / (Q - 1),
    π_k = (1/n) Σ_u r_uk / r_u over the n units with a rating, Q = number of categories (pass
    ``categories`` to count categories nobody used; otherwise the observed ones). Unlike kappa it stays
    meaningful at high agreement with skewed prevalence. Published check: Gwet's 4-rater example (the
    Krippendorff data) gives 0.77544.
    """
    table, values, _ = _category_table(reliability_data, categories)
    return _ac1_family("gwet_ac1", table, len(values), n_boot, confidence, seed)


def _ac1_family(
    name: str, table: npt.NDArray[np.float64], q: int, n_boot: int, confidence: float, seed: int
) -> CoefficientResult:
    _check_boot(n_boot, confidence)
    r = table.sum(axis=1)
    rated = r >= 1
    table, r = table[rated], r[rated]
    n_units = len(r)
    if n_units == 0:
        raise EmptyInputError("ratings: no unit has any rating (no reviews?)")
    two = (r >= 2).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pa_u = np.where(r >= 2, (table * (table - 1)).sum(axis=1) / (r * (r - 1)), 0.0)
    share_u = table / r[:, None]

    def compute(w: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            pa = (w @ pa_u) / (w @ two)
            if name == "percent_agreement":
                return pa, pa, np.zeros_like(pa)
            pi = (w @ share_u) / w.sum(axis=1)[:, None]
            pe = (pi * (1 - pi)).sum(axis=1) / (q - 1) if q > 1 else np.ones_like(pa)
            val = np.where(pe < 1, (pa - pe) / (1 - pe), np.nan)
        return val, pa, pe

    if not two.any():
        return CoefficientResult(name, None, None, None, n_units, q, reason="no unit has two or more ratings")
    val, pa, pe = compute(np.ones((1, n_units)))
    if not np.isfinite(val[0]):
        return CoefficientResult(name, None, float(pa[0]), float(pe[0]), n_units, q, reason="only one category")
    ci = _bootstrap_ci(lambda w: compute(w)[0], n_units, n_boot, confidence, seed)
    pe_out = None if name == "percent_agreement" else float(pe[0])
    return CoefficientResult(name, float(val[0]), float(pa[0]), pe_out, n_units, q, ci=ci)


def fleiss_kappa(
    reliability_data: Any,
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> CoefficientResult:
    """Fleiss' kappa for m raters per unit (Fleiss 1971, Psychol Bull 76:378-382).

    κ = (P̄ - P̄_e) / (1 - P̄_e), P_u = (Σ_k n_uk² - m) / (m (m - 1)), P̄ = mean P_u, p_k = Σ_u n_uk / (N m),
    P̄_e = Σ_k p_k². Units with a single rating are ignored; the remaining units must all have the same number
    of ratings, else the result is undefined with a reason (use alpha or AC1, which allow missing ratings).
    """
    _check_boot(n_boot, confidence)
    table, values, _ = _category_table(reliability_data, categories)
    r = table.sum(axis=1)
    table = table[r >= 2]
    r = r[r >= 2]
    q = len(values)
    if len(r) == 0:
        return CoefficientResult("fleiss_kappa", None, None, None, 0, q, reason="no unit has two or more ratings")
    if np.unique(r).size > 1:
        return CoefficientResult(
            "fleiss_kappa",
            None,
            None,
            None,
            len(r),
            q,
            reason=f"units have different numbers of ratings ({int(r.min())} to {int(r.max())}); Fleiss needs equal",
        )
    m = float(r[0])
    p_u = ((table * table).sum(axis=1) - m) / (m * (m - 1))

    def compute(w: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tot = w.sum(axis=1)
        pbar = (w @ p_u) / tot
        pk = (w @ table) / (tot * m)[:, None]
        pe = (pk * pk).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pe < 1, (pbar - pe) / (1 - pe), np.nan), pbar, pe

    val, pbar, pe = compute(np.ones((1, len(r))))
    if not np.isfinite(val[0]):
        return CoefficientResult(
            "fleiss_kappa", None, float(pbar[0]), float(pe[0]), len(r), q, reason="only one category used"
        )
    ci = _bootstrap_ci(lambda w: compute(w)[0], len(r), n_boot, confidence, seed)
    return CoefficientResult("fleiss_kappa", float(val[0]), float(pbar[0]), float(pe[0]), len(r), q, ci=ci)


def cohen_kappa(
    rater_a: Sequence[Any],
    rater_b: Sequence[Any],
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> CoefficientResult:
    """Cohen's kappa for two raters (Cohen 1960, Educ Psychol Meas 20:37-46).

    κ = (p_o - p_e) / (1 - p_e), p_o = Σ_k p_kk, p_e = Σ_k p_k· p_·k from the two raters' confusion table.
    Units where either rating is missing are dropped. Undefined (reason) when p_e = 1 (both raters used a
    single, identical category).
    """
    _check_boot(n_boot, confidence)
    if len(rater_a) != len(rater_b):
        raise LengthMismatchError(f"rater A has {len(rater_a)} ratings, rater B has {len(rater_b)}")
    rows = _as_rows([list(rater_a), list(rater_b)], "ratings")
    codes, values = _encode(rows, categories, "ratings")
    both = (codes[0] >= 0) & (codes[1] >= 0)
    a, b = codes[0, both], codes[1, both]
    q = max(len(values), 1)
    if a.size == 0:
        raise EmptyInputError("ratings: no unit was rated by both raters (no reviews?)")
    cell = sparse.csr_matrix((np.ones(a.size), (np.arange(a.size), a * q + b)), shape=(a.size, q * q))

    def compute(w: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.asarray(cell.T @ w.T).T.reshape(-1, q, q)
        t = t / t.sum(axis=(1, 2))[:, None, None]
        po = np.trace(t, axis1=1, axis2=2)
        pe = (t.sum(axis=2) * t.sum(axis=1)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pe < 1, (po - pe) / (1 - pe), np.nan), po, pe

    val, po, pe = compute(np.ones((1, a.size)))
    if not np.isfinite(val[0]):
        return CoefficientResult(
            "cohen_kappa", None, float(po[0]), float(pe[0]), int(a.size), q,
            reason="both raters used one and the same category: chance agreement is 1",
        )  # fmt: skip
    ci = _bootstrap_ci(lambda w: compute(w)[0], int(a.size), n_boot, confidence, seed)
    return CoefficientResult("cohen_kappa", float(val[0]), float(po[0]), float(pe[0]), int(a.size), q, ci=ci)


# --------------------------------------------------------------------------------------------- set agreement


def set_agreement(machine: Sequence[Iterable[Hashable]], reviewer: Sequence[Iterable[Hashable]]) -> SetAgreement:
    """Exact-match rate, mean Jaccard similarity and mean MASI similarity (1 - distance) between paired sets
    (Passonneau 2006). For a categorical feature (one label) exact match is plain accuracy."""
    if len(machine) != len(reviewer):
        raise LengthMismatchError(f"{len(machine)} machine label sets but {len(reviewer)} reviewer label sets")
    if len(machine) == 0:
        raise EmptyInputError("no corrected labels to compare (no reviews?)")
    a = [_as_set(s, f"machine labels, item {i}") for i, s in enumerate(machine)]
    b = [_as_set(s, f"reviewer labels, item {i}") for i, s in enumerate(reviewer)]
    sa = np.array([len(s) for s in a])
    sb = np.array([len(s) for s in b])
    inter = np.array([len(x & y) for x, y in zip(a, b, strict=True)])
    jac = 1.0 - _set_distance_from_sizes(sa, sb, inter, "jaccard")
    masi = 1.0 - _set_distance_from_sizes(sa, sb, inter, "masi")
    exact = float(np.mean([x == y for x, y in zip(a, b, strict=True)]))
    return SetAgreement(n=len(a), exact_match=exact, mean_jaccard=float(jac.mean()), mean_masi=float(masi.mean()))


# --------------------------------------------------------------------------------------------- paired comparison


def _as_bool(values: Sequence[Any], name: str) -> npt.NDArray[np.bool_]:
    out = np.empty(len(values), dtype=bool)
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or v in (0, 1):
            out[i] = bool(v)
        else:
            raise OutOfScaleError(f"{name}[{i}] is {v!r}; expected True/False (correct or not)")
    return out


def mcnemar_exact(correct_a: Sequence[Any], correct_b: Sequence[Any], *, confidence: float = 0.95) -> McNemarResult:
    """Exact McNemar test and paired accuracy difference for two prompt versions on the same items.

    Discordant counts b (only A correct) and c (only B correct); under H0 b ~ Binomial(b + c, 1/2), so the
    two-sided p = min(1, 2 P(X ≤ min(b, c))) (McNemar 1947; exact form, e.g. Fagerland, Lydersen & Laake 2013,
    BMC Med Res Methodol 13:91). p = 1 when there is no discordant pair.

    Difference Δ = p_A - p_B = (b - c)/n with Newcombe's (1998, Stat Med 17:2635-2650) method 10 interval:
    Wilson limits (l_i, u_i) of each accuracy, φ = (ad - bc - n/2)/√(margins) when ad - bc > n/2, 0 when
    0 ≤ ad - bc ≤ n/2, (ad - bc)/√(margins) when negative (0 when a margin is 0);
    L = Δ - √((p_A - l_A)² - 2φ(p_A - l_A)(u_B - p_B) + (u_B - p_B)²),
    U = Δ + √((p_B - l_B)² - 2φ(p_B - l_B)(u_A - p_A) + (u_A - p_A)²).
    Published check: table 59/6/16/80 gives -0.0621 (-0.1186 to -0.0046) (Fagerland et al. 2017, ch. 8).
    """
    if len(correct_a) != len(correct_b):
        raise LengthMismatchError(f"prompt A has {len(correct_a)} judged items, prompt B has {len(correct_b)}")
    if len(correct_a) == 0:
        raise EmptyInputError("no items judged for both prompt versions (no reviews?)")
    a_ok = _as_bool(correct_a, "correct_a")
    b_ok = _as_bool(correct_b, "correct_b")
    both = int((a_ok & b_ok).sum())
    only_a = int((a_ok & ~b_ok).sum())
    only_b = int((~a_ok & b_ok).sum())
    neither = int((~a_ok & ~b_ok).sum())
    return _mcnemar_from_table(both, only_a, only_b, neither, confidence)


def _mcnemar_from_table(a: int, b: int, c: int, d: int, confidence: float) -> McNemarResult:
    n = a + b + c + d
    disc = b + c
    p_value = 1.0 if disc == 0 else float(min(1.0, 2.0 * binom.cdf(min(b, c), disc, 0.5)))
    pa, pb = (a + b) / n, (a + c) / n
    ci_a = proportion_ci(a + b, n, confidence=confidence)
    ci_b = proportion_ci(a + c, n, confidence=confidence)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        phi = 0.0
    else:
        det = a * d - b * c
        if det > n / 2:
            phi = (det - n / 2) / math.sqrt(margins)
        elif det >= 0:
            phi = 0.0
        else:
            phi = det / math.sqrt(margins)
    da, ua = pa - ci_a.low, ci_a.high - pa
    db, ub = pb - ci_b.low, ci_b.high - pb
    diff = pa - pb
    low = diff - math.sqrt(max(0.0, da * da - 2 * phi * da * ub + ub * ub))
    high = diff + math.sqrt(max(0.0, db * db - 2 * phi * db * ua + ua * ua))
    return McNemarResult(
        n=n,
        both_correct=a,
        only_a_correct=b,
        only_b_correct=c,
        both_incorrect=d,
        accuracy_a=pa,
        accuracy_b=pb,
        difference=diff,
        difference_low=max(-1.0, low),
        difference_high=min(1.0, high),
        p_value=p_value,
        confidence=confidence,
    )


def paired_sample_size(p_only_a: float, p_only_b: float, *, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Paired items needed for a two-sided McNemar test at level ``alpha`` to detect the given discordance.

    Connor (1987), Biometrics 43:207-211: with ψ = p₁₀ + p₀₁ (discordant share) and δ = p₁₀ - p₀₁ (accuracy
    difference), n = ⌈(z_{1-α/2}·√ψ + z_{power}·√(ψ - δ²))² / δ²⌉. Returns None when δ = 0: no difference
    was observed, so there is none to size for.
    """
    for name, p in (("p_only_a", p_only_a), ("p_only_b", p_only_b)):
        if not 0.0 <= p <= 1.0:
            raise OutOfScaleError(f"{name} must be a share within [0, 1], got {p!r}")
    if p_only_a + p_only_b > 1.0:
        raise OutOfScaleError(f"discordant shares add up to {p_only_a + p_only_b} > 1")
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise StatsInputError(f"alpha and power must be within (0, 1), got {alpha!r}, {power!r}")
    psi, delta = p_only_a + p_only_b, p_only_a - p_only_b
    if delta == 0:
        return None
    za, zb = float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta * delta)) ** 2 / (delta * delta))


def holm_correction(
    results: Mapping[str, McNemarResult | float] | Sequence[McNemarResult | float], *, alpha: float = 0.05
) -> HolmResult:
    """Holm's (1979, Scand J Stat 6:65-70) step-down correction across features.

    Sort the m p-values ascending; adjusted p_(i) = max_{j ≤ i} min(1, (m - j + 1) p_(j)); reject when the
    adjusted p ≤ alpha. Controls the family-wise error rate under any dependence. Computed with statsmodels'
    ``multipletests(method="holm")``.
    """
    if isinstance(results, Mapping):
        names = tuple(str(k) for k in results)
        items = list(results.values())
    else:
        items = list(results)
        names = tuple(str(i) for i in range(len(items)))
    if not items:
        raise EmptyInputError("no p-values to correct")
    pvals = [r.p_value if isinstance(r, McNemarResult) else float(r) for r in items]
    for name, p in zip(names, pvals, strict=True):
        if not 0.0 <= p <= 1.0:
            raise OutOfScaleError(f"p-value of {name} is {p!r}; must be within [0, 1]")
    reject, adjusted, _, _ = multipletests(pvals, alpha=alpha, method="holm")
    return HolmResult(
        names=names,
        p_values=tuple(pvals),
        adjusted=tuple(float(x) for x in adjusted),
        reject=tuple(bool(x) for x in reject),
        alpha=alpha,
    )
