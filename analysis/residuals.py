"""Contingency tables between two extracted features and their adjusted Pearson residuals.

Pure module (no Django): long-form label arrays in, frozen dataclasses out.

Counting (the paper's Appendix A.7, for multi-valued features). Each feature is turned into a
conversations x labels 0/1 incidence matrix (a label repeated inside one conversation counts
once). The table is ``O = A.T @ B``: a conversation adds one to every (row label, column label)
pair it has, so a conversation with AI values {a, b} and task t adds one to (a, t) and (b, t).
Only conversations in which both features were extracted take part. Row and column totals and
the grand total ``N`` are the table's own margins (pairs, not conversations), which is what
"row total multiplied by column total, divided by sum of all observations" means in A.7.

Adjusted (standardized) Pearson residual of cell (i, j) (Haberman 1973; Agresti, *Categorical
Data Analysis*, 3rd ed., section 2.4.5)::

    E_ij = n_i. * n_.j / N,   p_i. = n_i. / N,   p_.j = n_.j / N
    r_ij = (O_ij - E_ij) / sqrt(E_ij * (1 - p_i.) * (1 - p_.j))

Under independence r_ij is approximately N(0, 1); the two-sided p-value is ``2 * (1 - Phi(|r|))``.
Unlike ``statsmodels.stats.contingency_tables.Table`` (which by default replaces zero cells by 0.5),
observed zeros are kept as zeros: that is the paper's formula.

Multiple comparisons: Bonferroni. The paper's critical value 4.33 is the two-sided normal quantile
for m = 3,307 comparisons (one per AI value, within one task): ``Phi^-1(1 - 0.05 / (2 * 3307)) =
4.327``. ``comparisons="rows"`` (the default) reproduces that family (m = number of row labels, one
family per column); ``"cols"`` uses m = number of column labels; ``"cells"`` uses m = rows x
columns, which bounds the chance of any false positive in the whole table by alpha.

Significance needs two things: ``|r_ij| >= critical value`` (the paper's rule) *and* an exact
p-value of the cell (hypergeometric, Fisher's test of the cell's 2x2 collapse) at most ``alpha / m``.
The second guards the sparse cells: with thousands of rare values and tasks most expected counts
are far below one, where the normal approximation fails (one conversation in a cell with E = 0.01
has r close to 10). On seeded null synthetic data the residual rule alone flags a cell in every
table, the combined rule in none (tests/analysis/test_synthetic.py).

Privacy threshold (as Clio does, Tamkin et al. 2024): labels seen in fewer than
``min_conversations`` conversations are removed before the table is built, and cells seen in fewer
than ``min_conversations`` conversations are never reported (their counts still enter the
margins, which only hold labels above the threshold). The result says how many were suppressed,
never which.

Odds ratio of a cell: the table collapsed to 2x2 around (i, j) -- a = O_ij, b = n_i. - O_ij,
c = n_.j - O_ij, d = N - n_i. - n_.j + O_ij -- with ``OR = ad / bc`` and the Woolf (log) interval
``exp(log OR +/- z * sqrt(1/a + 1/b + 1/c + 1/d))``. When any of the four counts is zero, 0.5 is
added to all four (Haldane-Anscombe correction), so the ratio and interval stay finite.

Scale: everything is sparse (scipy.sparse) or computed in row blocks, so the paper's table
(3,307 AI values x 6,745 tasks from 308,210 conversations) takes about a second.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import special, stats

from stats.errors import check_count_table

Comparisons = Literal["rows", "cols", "cells"]
Unmapped = Literal["error", "drop", "keep"]

# Row blocks of the dense residual computation: bounds memory at about BLOCK_CELLS * 8 bytes per array.
BLOCK_CELLS = 4_000_000


class AnalysisInputError(ValueError):
    """Bad input to an analysis: the message says what and where."""


# ---------------------------------------------------------------------------------------------
# Input: long-form labels and incidence matrices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSet:
    """One feature's labels in long form: one row per (conversation, label).

    ``extracted`` lists every conversation in which the feature was extracted, including those
    whose label list was empty (e.g. no human value); when ``None`` it is the set of conversations
    that appear in ``conversation``.
    """

    name: str
    conversation: np.ndarray
    label: np.ndarray
    extracted: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.conversation) != len(self.label):
            raise AnalysisInputError(
                f"labels of {self.name!r}: {len(self.conversation)} conversation ids but {len(self.label)} labels"
            )

    @classmethod
    def from_lists(cls, name: str, labels_by_conversation: Mapping[int, Sequence[str]]) -> LabelSet:
        """Build from ``{conversation_id: [label, ...]}`` (empty lists count as extracted, no label)."""
        conv = [c for c, labels in labels_by_conversation.items() for _ in labels]
        lab = [label for labels in labels_by_conversation.values() for label in labels]
        return cls(
            name=name,
            conversation=np.asarray(conv, dtype=np.int64),
            label=np.asarray(lab, dtype=object),
            extracted=np.fromiter(labels_by_conversation.keys(), dtype=np.int64, count=len(labels_by_conversation)),
        )

    def conversations(self) -> np.ndarray:
        """Sorted unique ids of the conversations in which the feature was extracted."""
        ids = self.conversation if self.extracted is None else self.extracted
        return np.unique(np.asarray(ids, dtype=np.int64))

    def mapped(self, mapping: Mapping[str, str] | None, *, unmapped: Unmapped = "error") -> LabelSet:
        """The same labels replaced by ``mapping[label]`` (e.g. a value by its taxonomy category).

        ``unmapped``: ``"error"`` raises naming the first unmapped labels, ``"drop"`` removes them,
        ``"keep"`` leaves them as they are.
        """
        if mapping is None:
            return self
        codes, uniques = pd.factorize(pd.Series(self.label, dtype=object), sort=False)
        targets = np.array([mapping.get(u) for u in uniques], dtype=object)
        missing = np.array([t is None for t in targets], dtype=bool)
        if missing.any():
            if unmapped == "error":
                names = ", ".join(repr(u) for u in uniques[missing][:5])
                raise AnalysisInputError(
                    f"{int(missing.sum())} label(s) of {self.name!r} have no entry in the mapping, e.g. {names}"
                )
            if unmapped == "keep":
                targets[missing] = uniques[missing]
        keep = ~missing[codes] if unmapped == "drop" else np.ones(len(codes), dtype=bool)
        return LabelSet(
            name=self.name,
            conversation=np.asarray(self.conversation)[keep],
            label=targets[codes[keep]],
            extracted=self.conversations(),
        )


@dataclass(frozen=True)
class Incidence:
    """Conversations x labels 0/1 matrix (CSR), rows in the order of ``conversations``."""

    matrix: sp.csr_matrix
    labels: np.ndarray
    conversations: np.ndarray

    @property
    def conversation_counts(self) -> np.ndarray:
        """Number of conversations carrying each label."""
        return np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.int64)


def incidence(
    labels: LabelSet,
    conversations: np.ndarray,
    *,
    empty_label: str | None = None,
) -> Incidence:
    """0/1 incidence of ``labels`` over the sorted conversation ids ``conversations``.

    Labels of conversations not in ``conversations`` are ignored; a label repeated within a
    conversation counts once. ``empty_label``, when given, becomes the label of every conversation
    with no label (the paper's "none" human value).
    """
    conv = np.asarray(labels.conversation, dtype=np.int64)
    pos = np.searchsorted(conversations, conv)
    pos_clipped = np.minimum(pos, max(len(conversations) - 1, 0))
    inside = (pos < len(conversations)) & (conversations[pos_clipped] == conv) if len(conversations) else pos < 0
    codes, uniques = pd.factorize(pd.Series(np.asarray(labels.label, dtype=object)[inside], dtype=object), sort=True)
    rows = pos[inside]
    uniques = np.asarray(uniques, dtype=object)
    if (codes < 0).any():
        raise AnalysisInputError(f"labels of {labels.name!r} contain missing values (None/NaN)")
    n, k = len(conversations), len(uniques)
    if empty_label is not None:
        has_any = np.zeros(n, dtype=bool)
        has_any[rows] = True
        empty_rows = np.flatnonzero(~has_any)
        if len(empty_rows):
            existing = np.flatnonzero(uniques == empty_label)
            if len(existing):
                empty_code = int(existing[0])
            else:
                uniques = np.append(uniques, np.array([empty_label], dtype=object))
                empty_code, k = k, k + 1
            rows = np.concatenate([rows, empty_rows])
            codes = np.concatenate([codes, np.full(len(empty_rows), empty_code, dtype=codes.dtype)])
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, codes)), shape=(n, k))
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return Incidence(matrix=matrix, labels=uniques, conversations=conversations)


# ---------------------------------------------------------------------------------------------
# Statistics on plain tables
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidualTable:
    """A contingency table and everything needed to report its adjusted residuals.

    ``observed`` is sparse (CSR, int64); zero cells are implicit. Labels under the privacy threshold
    are already removed; ``suppressed_*`` count what was removed or hidden.
    """

    row_feature: str
    col_feature: str
    row_labels: np.ndarray
    col_labels: np.ndarray
    observed: sp.csr_matrix
    row_totals: np.ndarray
    col_totals: np.ndarray
    row_conversations: np.ndarray
    col_conversations: np.ndarray
    n_conversations: int
    min_conversations: int
    suppressed_rows: int
    suppressed_cols: int
    empty_rows: int
    empty_cols: int
    alpha: float
    comparisons: Comparisons
    m: int
    critical_value: float
    suppressed_cells: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        return int(self.row_totals.sum())

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.row_labels), len(self.col_labels))

    def expected(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return self.row_totals[rows].astype(np.float64) * self.col_totals[cols] / self.total

    def residuals_at(self, rows: np.ndarray, cols: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
        """Adjusted residuals of the cells (rows[k], cols[k])."""
        if observed is None:
            observed = np.asarray(self.observed[rows, cols]).ravel()
        n = float(self.total)
        p_row = self.row_totals[rows] / n
        p_col = self.col_totals[cols] / n
        e = p_row * p_col * n
        return (np.asarray(observed, dtype=np.float64) - e) / np.sqrt(e * (1 - p_row) * (1 - p_col))

    def dense_residuals(self) -> np.ndarray:
        """The whole residual matrix (rows x cols, float64). Memory: 8 bytes per cell."""
        out = np.empty(self.shape, dtype=np.float64)
        if out.size:
            self._fill(out, 0, self.shape[0], *self._factors())
        return out

    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """u, v, c, d with r_ij = O_ij u_i v_j - c_i d_j (see ``_blocks``)."""
        n = float(self.total)
        p_row = self.row_totals / n
        p_col = self.col_totals / n
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.sqrt(p_row * (1 - p_row))
            b = np.sqrt(p_col * (1 - p_col))
            return 1.0 / (np.sqrt(n) * a), 1.0 / b, np.sqrt(n) * p_row / a, p_col / b

    def _fill(
        self, out: np.ndarray, start: int, stop: int, u: np.ndarray, v: np.ndarray, c: np.ndarray, d: np.ndarray
    ) -> None:
        """Residuals of rows start..stop into ``out`` (shape (stop - start) x cols)."""
        np.multiply.outer(-c[start:stop], d, out=out)
        indptr, indices, data = self.observed.indptr, self.observed.indices, self.observed.data
        lo, hi = indptr[start], indptr[stop]
        rows = np.repeat(np.arange(stop - start), np.diff(indptr[start : stop + 1]))
        cols = indices[lo:hi]
        out[rows, cols] += data[lo:hi] * u[start:stop][rows] * v[cols]

    def _blocks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """Dense residuals of consecutive row blocks, as (start, stop, block).

        With a_i = sqrt(p_i.(1 - p_i.)) and b_j = sqrt(p_.j(1 - p_.j)) the residual factorises as
        r_ij = O_ij / (sqrt(N) a_i b_j) - sqrt(N) p_i. p_.j / (a_i b_j): one outer product for the
        whole block plus a correction on the non-zero cells only, instead of several dense passes.
        """
        n_rows, n_cols = self.shape
        if n_rows == 0 or n_cols == 0:
            return
        factors = self._factors()
        step = max(1, BLOCK_CELLS // n_cols)
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            block = np.empty((stop - start, n_cols), dtype=np.float64)
            self._fill(block, start, stop, *factors)
            yield start, stop, block

    def cells(self, *, include_suppressed: bool = False) -> pd.DataFrame:
        """Every cell with a non-zero count (suppressed cells left out unless asked), as a DataFrame."""
        coo = self.observed.tocoo()
        keep = np.ones(coo.nnz, dtype=bool) if include_suppressed else coo.data >= self.min_conversations_cell
        return self._frame(coo.row[keep], coo.col[keep], coo.data[keep])

    @property
    def min_conversations_cell(self) -> int:
        return max(self.min_conversations, 1)

    def _frame(self, rows: np.ndarray, cols: np.ndarray, observed: np.ndarray) -> pd.DataFrame:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        observed = np.asarray(observed, dtype=np.int64)
        r = self.residuals_at(rows, cols, observed)
        p_exact = exact_cell_p(observed, self.row_totals[rows], self.col_totals[cols], self.total)
        ors = collapsed_odds_ratios(observed, self.row_totals[rows], self.col_totals[cols], self.total)
        return pd.DataFrame(
            {
                "row": self.row_labels[rows],
                "col": self.col_labels[cols],
                "observed": observed,
                "expected": self.expected(rows, cols),
                "residual": r,
                "p_value": two_sided_p(r),
                "p_exact": p_exact,
                "significant": (np.abs(r) >= self.critical_value) & (p_exact <= self.alpha / self.m),
                "odds_ratio": ors.odds_ratio,
                "or_low": ors.low,
                "or_high": ors.high,
                "or_corrected": ors.corrected,
                "row_index": rows,
                "col_index": cols,
            }
        )

    def report(self, *, top_k: int = 10) -> ResidualReport:
        """Significant cells and the top ``top_k`` positive and negative associations per row and column.

        Cells under the privacy threshold are never part of it. Computed in row blocks over the
        whole table, so significant *negative* associations of zero cells are found too.
        """
        k_min = self.min_conversations_cell
        n_cols = self.shape[1]
        k_row = min(top_k, n_cols)
        picked_r: list[np.ndarray] = []
        picked_c: list[np.ndarray] = []
        beyond_r: list[np.ndarray] = []
        beyond_c: list[np.ndarray] = []
        # Running top k of each column over the row blocks: values and row indices, (columns x k).
        col_best: dict[float, tuple[np.ndarray, np.ndarray]] = {
            sign: (np.full((n_cols, 0), -np.inf), np.empty((n_cols, 0), dtype=np.int64)) for sign in (1.0, -1.0)
        }
        for start, stop, block in self._blocks():
            if k_min > 1:
                obs = self.observed[start:stop].toarray()
                block[(obs > 0) & (obs < k_min)] = np.nan
            # NaN (hidden) is never beyond the critical value and never among the top: it is ranked as -inf.
            i, j = np.nonzero(np.abs(block) >= self.critical_value)
            beyond_r.append(i + start)
            beyond_c.append(j)
            if not k_row:
                continue
            for sign in (1.0, -1.0):
                score = np.nan_to_num(sign * block, nan=-np.inf)
                top = np.argpartition(-score, k_row - 1, axis=1)[:, :k_row]
                keep = np.isfinite(np.take_along_axis(score, top, axis=1))
                picked_r.append(np.repeat(np.arange(start, stop), k_row)[keep.ravel()])
                picked_c.append(top.ravel()[keep.ravel()])
                score_t = np.ascontiguousarray(score.T)
                kk = min(top_k, stop - start)
                top_t = np.argpartition(-score_t, kk - 1, axis=1)[:, :kk]
                values: np.ndarray
                rows_seen: np.ndarray
                values, rows_seen = col_best[sign]
                values = np.concatenate([values, np.take_along_axis(score_t, top_t, axis=1)], axis=1)
                rows_seen = np.concatenate([rows_seen, top_t + start], axis=1)
                if values.shape[1] > top_k:
                    best = np.argpartition(-values, top_k - 1, axis=1)[:, :top_k]
                    values = np.take_along_axis(values, best, axis=1)
                    rows_seen = np.take_along_axis(rows_seen, best, axis=1)
                col_best[sign] = (values, rows_seen)
        for values, rows_seen in col_best.values():
            finite = np.isfinite(values)
            picked_r.append(rows_seen[finite])
            picked_c.append(np.broadcast_to(np.arange(n_cols)[:, None], values.shape)[finite])
        width = max(n_cols, 1)
        top_keys = np.unique(
            np.concatenate([np.empty(0, np.int64), *(r * width + c for r, c in zip(picked_r, picked_c, strict=True))])
        )
        beyond_keys = np.unique(
            np.concatenate([np.empty(0, np.int64), *(r * width + c for r, c in zip(beyond_r, beyond_c, strict=True))])
        )
        keys = np.union1d(top_keys, beyond_keys)
        rows, cols = np.divmod(keys, width)
        observed = np.asarray(self.observed[rows, cols]).ravel() if len(keys) else np.empty(0, dtype=np.int64)
        frame = self._frame(rows, cols, observed)
        keep = frame["significant"].to_numpy() | np.isin(keys, top_keys)
        return ResidualReport(table=self, cells=frame[keep].reset_index(drop=True), top_k=top_k)


@dataclass(frozen=True)
class ResidualReport:
    """What is shown and stored: significant cells and top associations, privacy-safe."""

    table: ResidualTable
    cells: pd.DataFrame
    top_k: int

    @property
    def significant(self) -> pd.DataFrame:
        return self.cells[self.cells["significant"]].sort_values("residual", ascending=False, ignore_index=True)

    def top_by_row(self, *, negative: bool = False) -> pd.DataFrame:
        """For each row label, its ``top_k`` most positive (or most negative) residuals."""
        return _top(self.cells, "row", self.top_k, negative)

    def top_by_col(self, *, negative: bool = False) -> pd.DataFrame:
        """For each column label, its ``top_k`` most positive (or most negative) residuals."""
        return _top(self.cells, "col", self.top_k, negative)

    def summary(self) -> dict[str, object]:
        t = self.table
        return {
            "row_feature": t.row_feature,
            "col_feature": t.col_feature,
            "rows": len(t.row_labels),
            "cols": len(t.col_labels),
            "n_conversations": t.n_conversations,
            "total": t.total,
            "nonzero_cells": int(t.observed.nnz),
            "min_conversations": t.min_conversations,
            "suppressed_rows": t.suppressed_rows,
            "suppressed_cols": t.suppressed_cols,
            "suppressed_cells": t.suppressed_cells,
            "empty_rows": t.empty_rows,
            "empty_cols": t.empty_cols,
            "alpha": t.alpha,
            "comparisons": t.comparisons,
            "m": t.m,
            "critical_value": t.critical_value,
            "significant_cells": int(self.cells["significant"].sum()),
            "significant_positive": int((self.cells["significant"] & (self.cells["residual"] > 0)).sum()),
            "notes": list(t.notes),
        }


def _top(cells: pd.DataFrame, by: str, k: int, negative: bool) -> pd.DataFrame:
    order = cells.sort_values([by, "residual"], ascending=[True, negative], kind="stable")
    return order.groupby(by, sort=True).head(k).reset_index(drop=True)


def residual_table(
    rows: LabelSet,
    cols: LabelSet,
    *,
    row_mapping: Mapping[str, str] | None = None,
    col_mapping: Mapping[str, str] | None = None,
    unmapped: Unmapped = "error",
    min_conversations: int = 1,
    alpha: float = 0.05,
    comparisons: Comparisons = "rows",
    empty_row_label: str | None = None,
    empty_col_label: str | None = None,
) -> ResidualTable:
    """Build the rows x cols contingency table (A.7 counting) with the privacy threshold applied.

    ``row_mapping`` / ``col_mapping`` map each label to its taxonomy ancestor at the wanted level
    (a plain dict). ``min_conversations`` is the privacy threshold k.
    """
    if min_conversations < 1:
        raise AnalysisInputError(f"min_conversations must be at least 1, got {min_conversations}")
    if comparisons not in ("rows", "cols", "cells"):
        raise AnalysisInputError(f"comparisons must be 'rows', 'cols' or 'cells', got {comparisons!r}")
    rows = rows.mapped(row_mapping, unmapped=unmapped)
    cols = cols.mapped(col_mapping, unmapped=unmapped)
    conversations = np.intersect1d(rows.conversations(), cols.conversations(), assume_unique=True)
    a = incidence(rows, conversations, empty_label=empty_row_label)
    b = incidence(cols, conversations, empty_label=empty_col_label)

    a_matrix, a_labels, a_counts, a_suppressed = _threshold(a, min_conversations)
    b_matrix, b_labels, b_counts, b_suppressed = _threshold(b, min_conversations)
    observed = (a_matrix.T @ b_matrix).tocsr().astype(np.int64)
    observed.sort_indices()
    row_totals: np.ndarray = np.asarray(observed.sum(axis=1)).ravel().astype(np.int64)
    col_totals: np.ndarray = np.asarray(observed.sum(axis=0)).ravel().astype(np.int64)
    # A label whose conversations all lack the other feature has no cell to test.
    keep_r = row_totals > 0
    keep_c = col_totals > 0
    if not keep_r.all() or not keep_c.all():
        observed = observed[np.flatnonzero(keep_r)][:, np.flatnonzero(keep_c)].tocsr()
    row_totals, col_totals = row_totals[keep_r], col_totals[keep_c]
    n_rows, n_cols = int(keep_r.sum()), int(keep_c.sum())
    notes: list[str] = []
    if n_rows < 2 or n_cols < 2:
        notes.append("the table has fewer than two rows or columns: residuals are undefined")
    m = {"rows": n_rows, "cols": n_cols, "cells": n_rows * n_cols}[comparisons]
    suppressed_cells = int(((observed.data > 0) & (observed.data < min_conversations)).sum())
    return ResidualTable(
        row_feature=rows.name,
        col_feature=cols.name,
        row_labels=a_labels[keep_r],
        col_labels=b_labels[keep_c],
        observed=observed,
        row_totals=row_totals,
        col_totals=col_totals,
        row_conversations=a_counts[keep_r],
        col_conversations=b_counts[keep_c],
        n_conversations=len(conversations),
        min_conversations=min_conversations,
        suppressed_rows=a_suppressed,
        suppressed_cols=b_suppressed,
        empty_rows=int((~keep_r).sum()),
        empty_cols=int((~keep_c).sum()),
        alpha=alpha,
        comparisons=comparisons,
        m=max(m, 1),
        critical_value=bonferroni_critical_value(max(m, 1), alpha),
        suppressed_cells=suppressed_cells,
        notes=tuple(notes),
    )


def _threshold(inc: Incidence, k: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, int]:
    counts = inc.conversation_counts
    keep = counts >= k
    if keep.all():
        return inc.matrix, inc.labels, counts, 0
    idx = np.flatnonzero(keep)
    return inc.matrix[:, idx].tocsr(), inc.labels[idx], counts[idx], int((~keep).sum())
