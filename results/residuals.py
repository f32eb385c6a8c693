"""Contingency tables between two extracted features and their adjusted Pearson residuals.

Pure module (no Django): long-form label arrays in, frozen dataclasses out.

Counting: see :mod:`results.labels`.

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
table, the combined rule in none (tests/results/test_synthetic.py).

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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from results.cell_stats import bonferroni_critical_value, collapsed_odds_ratios, exact_cell_p, two_sided_p
from results.labels import AnalysisInputError, Incidence, LabelSet, Unmapped, incidence

Comparisons = Literal["rows", "cols", "cells"]

# Row blocks of the dense residual computation: bounds memory at about BLOCK_CELLS * 8 bytes per array.
BLOCK_CELLS = 4_000_000


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
