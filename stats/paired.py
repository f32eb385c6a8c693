"""Two prompt versions judged on the same items: exact McNemar test, paired difference, sample size, Holm."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import binom

from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError, StatsInputError, normal_quantile
from stats.proportions import proportion_ci
from stats.result import Result

__all__ = [
    "HolmResult",
    "McNemarResult",
    "holm_correction",
    "mcnemar_exact",
    "mcnemar_power",
    "paired_sample_size",
]


@dataclass(frozen=True)
class McNemarResult(Result):
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
class HolmResult(Result):
    names: tuple[str, ...]
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    reject: tuple[bool, ...]
    alpha: float


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
    za, zb = normal_quantile(1 - alpha / 2), normal_quantile(power)
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(psi - delta * delta)) ** 2 / (delta * delta))


def mcnemar_rejects(only_a: int, only_b: int, *, alpha: float) -> bool:
    """Whether the exact McNemar test (see :func:`mcnemar_exact`) rejects at level ``alpha``."""
    disc = only_a + only_b
    if disc == 0:
        return False
    return float(min(1.0, 2.0 * binom.cdf(min(only_a, only_b), disc, 0.5))) <= alpha


def mcnemar_power(p_only_a: float, p_only_b: float, n: int, *, alpha: float = 0.05) -> float:
    """Exact power of the two-sided exact (conditional) McNemar test with ``n`` paired items.

    Items are discordant with probability ψ = p₁₀ + p₀₁; given m discordant items, the count only A got right
    is Binomial(m, p₁₀/ψ), and the test rejects for the counts x with 2·P(Bin(m, ½) ≤ min(x, m - x)) ≤ α.
    Power = Σ_m Bin(m; n, ψ) · Σ_{x rejected} Bin(x; m, p₁₀/ψ) (Suissa & Shuster 1991, Biometrics 47:361-372,
    the unconditional power of the conditional test). Unlike :func:`paired_sample_size` (Connor's normal
    approximation) it is exact, so a simulation of the test must reproduce it within Monte Carlo error.
    """
    for name, p in (("p_only_a", p_only_a), ("p_only_b", p_only_b)):
        if not 0.0 <= p <= 1.0:
            raise OutOfScaleError(f"{name} must be a share within [0, 1], got {p!r}")
    if p_only_a + p_only_b > 1.0:
        raise OutOfScaleError(f"discordant shares add up to {p_only_a + p_only_b} > 1")
    if n < 0:
        raise StatsInputError(f"n must be ≥ 0, got {n}")
    psi = p_only_a + p_only_b
    if psi == 0 or n == 0:
        return 0.0
    share_a = p_only_a / psi
    total = 0.0
    m_all = np.arange(n + 1)
    p_m = binom.pmf(m_all, n, psi)
    for m in m_all[p_m > 1e-15]:
        x = np.arange(int(m) + 1)
        p_null = np.minimum(1.0, 2.0 * binom.cdf(np.minimum(x, m - x), m, 0.5))
        reject = p_null <= alpha
        total += float(p_m[m]) * float(binom.pmf(x[reject], m, share_a).sum())
    return min(1.0, total)


def holm_correction(
    results: Mapping[str, McNemarResult | float] | Sequence[McNemarResult | float], *, alpha: float = 0.05
) -> HolmResult:
    """Holm's (1979, Scand J Stat 6:65-70) step-down correction across features.

    Sort the m p-values ascending; adjusted p_(i) = max_{j ≤ i} min(1, (m - j + 1) p_(j)); reject when the
    adjusted p ≤ alpha. Controls the family-wise error rate under any dependence. Computed here in a few array
    operations (statsmodels' ``multipletests(method="holm")``, the test's reference, runs a full garbage
    collection on every call, which dominated simulated studies).
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
    arr = np.asarray(pvals, dtype=np.float64)
    order = np.argsort(arr, kind="stable")
    m = len(arr)
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * arr[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    reject = adjusted <= alpha
    return HolmResult(
        names=names,
        p_values=tuple(pvals),
        adjusted=tuple(float(x) for x in adjusted),
        reject=tuple(bool(x) for x in reject),
        alpha=alpha,
    )
