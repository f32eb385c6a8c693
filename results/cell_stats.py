"""Statistics on one contingency table's cells (pure): the Bonferroni critical value, normal and exact
(hypergeometric) p-values, adjusted Pearson residuals and 2x2-collapse odds ratios. Formulas and references:
:mod:`results.residuals`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from results.labels import AnalysisInputError
from stats.errors import check_count_table


def bonferroni_critical_value(m: int, alpha: float = 0.05) -> float:
    """Two-sided Bonferroni critical value for ``m`` comparisons: ``Phi^-1(1 - alpha / (2m))``.

    ``bonferroni_critical_value(3307)`` is 4.327, the paper's 4.33 (Figure 8 caption).
    """
    if m < 1:
        raise AnalysisInputError(f"number of comparisons must be at least 1, got {m}")
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.isf(alpha / (2 * m)))


def two_sided_p(residuals: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value ``2 * (1 - Phi(|r|)) = erfc(|r| / sqrt 2)``."""
    return special.erfc(np.abs(residuals) / np.sqrt(2.0))


def exact_cell_p(observed: np.ndarray, row_totals: np.ndarray, col_totals: np.ndarray, total: int) -> np.ndarray:
    """Two-sided exact p-value of each cell against independence, given the table's margins.

    With the margins fixed, the count of a cell follows the hypergeometric distribution of its 2x2
    collapse (Fisher's exact test): X ~ Hypergeom(N, n_i., n_.j). Two-sided by doubling the tail on
    the observation's side of the mean, ``min(1, 2 * P(X >= o))`` or ``min(1, 2 * P(X <= o))``
    (Agresti 2013, section 3.5.1). Vectorised over cells; above ``EXACT_MAX_EXPECTED`` expected
    count the normal p-value of the adjusted residual is used (the two agree closely there).

    Why it is needed: with thousands of rare values and tasks most expected counts are far below
    one, where the normal approximation behind the residual fails badly in the upper tail (a single
    conversation in a cell with E = 0.01 has r close to 10). A cell is significant only when its
    residual passes the Bonferroni critical value *and* this p-value passes alpha / m.
    """
    o = np.asarray(observed, dtype=np.float64)
    n_i = np.asarray(row_totals, dtype=np.float64)
    n_j = np.asarray(col_totals, dtype=np.float64)
    big_n = float(total)
    expected = n_i * n_j / big_n
    out = np.empty(len(o), dtype=np.float64)
    exact = expected <= EXACT_MAX_EXPECTED
    if (~exact).any():
        p_i, p_j = n_i[~exact] / big_n, n_j[~exact] / big_n
        e = expected[~exact]
        out[~exact] = two_sided_p((o[~exact] - e) / np.sqrt(e * (1 - p_i) * (1 - p_j)))
    idx = np.flatnonzero(exact)
    upper = o[idx] >= expected[idx]
    for side, sel in ((True, idx[upper]), (False, idx[~upper])):
        if len(sel):
            out[sel] = np.minimum(1.0, 2.0 * _hypergeom_tail(o[sel], big_n, n_i[sel], n_j[sel], upper=side))
    return out


# Above this expected count a cell's p-value comes from the normal approximation.
EXACT_MAX_EXPECTED = 1000.0


def _hypergeom_tail(k: np.ndarray, big_n: float, n: np.ndarray, draws: np.ndarray, *, upper: bool) -> np.ndarray:
    """P(X >= k) (upper) or P(X <= k) for X ~ Hypergeom(big_n, n, draws), vectorised.

    Starts from the log pmf at k (log-gamma) and walks the tail with the ratio of successive
    probabilities until the terms no longer change the sum. scipy's ``hypergeom`` gives the same
    numbers but is far slower for populations of a million (tested against it).
    """
    bad = big_n - n
    log_pmf = (
        special.gammaln(n + 1)
        - special.gammaln(k + 1)
        - special.gammaln(n - k + 1)
        + special.gammaln(bad + 1)
        - special.gammaln(draws - k + 1)
        - special.gammaln(bad - draws + k + 1)
        - special.gammaln(big_n + 1)
        + special.gammaln(draws + 1)
        + special.gammaln(big_n - draws + 1)
    )
    term = np.exp(log_pmf)
    total = term.copy()
    x = k.copy()
    lo = np.maximum(0.0, draws - bad)
    hi = np.minimum(n, draws)
    active = np.ones(len(k), dtype=bool)
    while active.any():
        a = np.flatnonzero(active)
        xa = x[a]
        if upper:
            ratio = (n[a] - xa) * (draws[a] - xa) / ((xa + 1) * (bad[a] - draws[a] + xa + 1))
            x[a] = xa + 1
            inside = x[a] <= hi[a]
        else:
            ratio = xa * (bad[a] - draws[a] + xa) / ((n[a] - xa + 1) * (draws[a] - xa + 1))
            x[a] = xa - 1
            inside = x[a] >= lo[a]
        term[a] = np.where(inside, term[a] * ratio, 0.0)
        total[a] += term[a]
        active[a] = inside & (term[a] > 1e-17 * total[a])
    return np.minimum(total, 1.0)


def adjusted_residuals(observed: np.ndarray) -> np.ndarray:
    """Adjusted Pearson residuals of a dense two-way table (formula in the module docstring).

    Rows or columns with a zero total have no expected count; their residuals are NaN. NaN, infinite or
    fractional cells raise :class:`stats.errors.StatsInputError` naming the cell.
    """
    table = np.asarray(observed, dtype=np.float64)
    if table.ndim != 2:
        raise AnalysisInputError(f"a two-way table is needed, got an array of shape {table.shape}")
    if (table < 0).any():
        raise AnalysisInputError("a contingency table cannot hold negative counts")
    table = check_count_table(table)
    total = table.sum()
    row_p = table.sum(axis=1) / total
    col_p = table.sum(axis=0) / total
    expected = np.outer(row_p, col_p) * total
    with np.errstate(divide="ignore", invalid="ignore"):
        return (table - expected) / np.sqrt(expected * np.outer(1 - row_p, 1 - col_p))


@dataclass(frozen=True)
class OddsRatios:
    odds_ratio: np.ndarray
    low: np.ndarray
    high: np.ndarray
    corrected: np.ndarray


def collapsed_odds_ratios(
    observed: np.ndarray,
    row_totals: np.ndarray,
    col_totals: np.ndarray,
    total: float,
    *,
    confidence: float = 0.95,
) -> OddsRatios:
    """Odds ratio and Woolf interval of each cell against the rest of the table (2x2 collapse).

    Vectorised over cells: ``observed``, ``row_totals`` and ``col_totals`` are aligned arrays (one
    entry per cell). Haldane-Anscombe: 0.5 is added to all four counts of a cell's 2x2 table when one
    of them is zero. Reference: Agresti, *Categorical Data Analysis*, 3rd ed., section 3.1.
    """
    a = np.asarray(observed, dtype=np.float64)
    b = np.asarray(row_totals, dtype=np.float64) - a
    c = np.asarray(col_totals, dtype=np.float64) - a
    d = float(total) - a - b - c
    corrected = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    shift = np.where(corrected, 0.5, 0.0)
    a, b, c, d = a + shift, b + shift, c + shift, d + shift
    log_or = np.log(a) + np.log(d) - np.log(b) - np.log(c)
    se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = float(stats.norm.isf((1 - confidence) / 2))
    return OddsRatios(
        odds_ratio=np.exp(log_or), low=np.exp(log_or - z * se), high=np.exp(log_or + z * se), corrected=corrected
    )
