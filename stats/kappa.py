"""Chance-corrected agreement among raters on categories: Cohen's and Fleiss' kappa, Gwet's AC1, percent agreement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from stats.coding import as_rows, encode, value_counts
from stats.errors import EmptyInputError, LengthMismatchError
from stats.result import Result

__all__ = ["CoefficientResult", "cohen_kappa", "fleiss_kappa", "gwet_ac1", "percent_agreement"]


@dataclass(frozen=True)
class CoefficientResult(Result):
    """A chance-corrected agreement coefficient (kappa, AC1) or percent agreement."""

    name: str
    value: float | None
    observed_agreement: float | None
    chance_agreement: float | None
    n_units: int
    n_categories: int
    reason: str | None = None
    ci: BootstrapCI | None = None


def _category_table(
    reliability_data: Any, categories: Sequence[Any] | None
) -> tuple[npt.NDArray[np.float64], list[Any], npt.NDArray[np.int64]]:
    rows = as_rows(reliability_data)
    codes, values = encode(rows, categories, "ratings")
    table = value_counts(codes, len(values)).toarray()
    return table, values, codes


def percent_agreement(
    reliability_data: Any,
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    interval: str = "bca",
    unit_weights: Sequence[float] | None = None,
) -> CoefficientResult:
    """Mean pairwise percent agreement: P_a = (1/n') Σ_u Σ_k r_uk (r_uk - 1) / (r_u (r_u - 1)) over the n'
    units with r_u ≥ 2 ratings (Fleiss 1971's P̄; Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed., §2)."""
    table, values, _ = _category_table(reliability_data, categories)
    uw = design_weights(unit_weights, len(table))
    return _ac1_family("percent_agreement", table, len(values), n_boot, confidence, seed, interval, uw)


def gwet_ac1(
    reliability_data: Any,
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    interval: str = "bca",
    unit_weights: Sequence[float] | None = None,
) -> CoefficientResult:
    """Gwet's AC1 for any number of raters with missing ratings (Gwet 2008, Br J Math Stat Psychol 61:29-48).

    AC1 = (P_a - P_e) / (1 - P_e), P_a as in :func:`percent_agreement`, P_e = Σ_k π_k (1 - π_k) / (Q - 1),
    π_k = (1/n) Σ_u r_uk / r_u over the n units with a rating, Q = number of categories (pass
    ``categories`` to count categories nobody used; otherwise the observed ones). Unlike kappa it stays
    meaningful at high agreement with skewed prevalence. Published check: Gwet's 4-rater example (the
    Krippendorff data) gives 0.77544.
    """
    table, values, _ = _category_table(reliability_data, categories)
    uw = design_weights(unit_weights, len(table))
    return _ac1_family("gwet_ac1", table, len(values), n_boot, confidence, seed, interval, uw)


def _ac1_family(
    name: str,
    table: npt.NDArray[np.float64],
    q: int,
    n_boot: int,
    confidence: float,
    seed: int,
    interval: str,
    unit_weights: npt.NDArray[np.float64] | None,
) -> CoefficientResult:
    check_boot(n_boot, confidence, interval)
    r = table.sum(axis=1)
    rated = r >= 1
    table, r = table[rated], r[rated]
    uw = None if unit_weights is None else unit_weights[rated]
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
    val, pa, pe = compute(np.ones((1, n_units)) if uw is None else uw[None, :])
    if not np.isfinite(val[0]):
        return CoefficientResult(name, None, float(pa[0]), float(pe[0]), n_units, q, reason="only one category")
    ci = bootstrap_ci(lambda w: compute(w)[0], n_units, n_boot, confidence, seed, interval, uw)
    ci = flag_approximate(ci, n_units=n_units, minority_share=minority_share(table))
    pe_out = None if name == "percent_agreement" else float(pe[0])
    return CoefficientResult(name, float(val[0]), float(pa[0]), pe_out, n_units, q, ci=ci)


def fleiss_kappa(
    reliability_data: Any,
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    interval: str = "bca",
    unit_weights: Sequence[float] | None = None,
) -> CoefficientResult:
    """Fleiss' kappa for m raters per unit (Fleiss 1971, Psychol Bull 76:378-382).

    κ = (P̄ - P̄_e) / (1 - P̄_e), P_u = (Σ_k n_uk² - m) / (m (m - 1)), P̄ = mean P_u, p_k = Σ_u n_uk / (N m),
    P̄_e = Σ_k p_k². Units with a single rating are ignored; the remaining units must all have the same number
    of ratings, else the result is undefined with a reason (use alpha or AC1, which allow missing ratings).
    """
    check_boot(n_boot, confidence, interval)
    table, values, _ = _category_table(reliability_data, categories)
    r = table.sum(axis=1)
    weights = design_weights(unit_weights, len(table))
    uw = None if weights is None else weights[r >= 2]
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

    val, pbar, pe = compute(np.ones((1, len(r))) if uw is None else uw[None, :])
    if not np.isfinite(val[0]):
        return CoefficientResult(
            "fleiss_kappa", None, float(pbar[0]), float(pe[0]), len(r), q, reason="only one category used"
        )
    ci = bootstrap_ci(lambda w: compute(w)[0], len(r), n_boot, confidence, seed, interval, uw)
    ci = flag_approximate(ci, n_units=len(r), minority_share=minority_share(table))
    return CoefficientResult("fleiss_kappa", float(val[0]), float(pbar[0]), float(pe[0]), len(r), q, ci=ci)


def cohen_kappa(
    rater_a: Sequence[Any],
    rater_b: Sequence[Any],
    *,
    categories: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    interval: str = "bca",
    unit_weights: Sequence[float] | None = None,
) -> CoefficientResult:
    """Cohen's kappa for two raters (Cohen 1960, Educ Psychol Meas 20:37-46).

    κ = (p_o - p_e) / (1 - p_e), p_o = Σ_k p_kk, p_e = Σ_k p_k· p_·k from the two raters' confusion table.
    Units where either rating is missing are dropped. Undefined (reason) when p_e = 1 (both raters used a
    single, identical category).
    """
    check_boot(n_boot, confidence, interval)
    if len(rater_a) != len(rater_b):
        raise LengthMismatchError(f"rater A has {len(rater_a)} ratings, rater B has {len(rater_b)}")
    rows = as_rows([list(rater_a), list(rater_b)], "ratings")
    codes, values = encode(rows, categories, "ratings")
    both = (codes[0] >= 0) & (codes[1] >= 0)
    weights = design_weights(unit_weights, len(rater_a))
    uw = None if weights is None else weights[both]
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

    val, po, pe = compute(np.ones((1, a.size)) if uw is None else uw[None, :])
    if not np.isfinite(val[0]):
        return CoefficientResult(
            "cohen_kappa", None, float(po[0]), float(pe[0]), int(a.size), q,
            reason="both raters used one and the same category: chance agreement is 1",
        )  # fmt: skip
    ci = bootstrap_ci(lambda w: compute(w)[0], int(a.size), n_boot, confidence, seed, interval, uw)
    both_raters = np.bincount(np.concatenate([a, b]), minlength=q).reshape(1, -1).astype(np.float64)
    ci = flag_approximate(ci, n_units=int(a.size), minority_share=minority_share(both_raters))
    return CoefficientResult("cohen_kappa", float(val[0]), float(po[0]), float(pe[0]), int(a.size), q, ci=ci)
