"""results.residuals against statsmodels, the paper's published critical value and hand-counted tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.contingency_tables import Table, Table2x2

from results.cell_stats import adjusted_residuals, bonferroni_critical_value, collapsed_odds_ratios, two_sided_p
from results.labels import AnalysisInputError, LabelSet
from results.residuals import residual_table
from stats.errors import StatsInputError


def random_labels(rng: np.random.Generator, n: int, n_rows: int, n_cols: int) -> tuple[LabelSet, LabelSet]:
    """Multi-valued rows (1-5 labels, some repeated) and one column label per conversation."""
    conv_r, lab_r, lab_c = [], [], []
    for c in range(n):
        for v in rng.integers(0, n_rows, size=rng.integers(1, 6)):
            conv_r.append(c)
            lab_r.append(f"v{v:03d}")
        lab_c.append(f"t{rng.integers(0, n_cols):03d}")
    rows = LabelSet("ai_values", np.array(conv_r), np.array(lab_r, dtype=object))
    cols = LabelSet("task", np.arange(n), np.array(lab_c, dtype=object))
    return rows, cols


@pytest.mark.parametrize("seed", range(5))
def test_adjusted_residuals_equal_statsmodels_on_random_tables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(2, 30, size=2))
    table = rng.integers(1, 500, size=shape)  # no zeros: statsmodels' default shifts zeros by 0.5
    np.testing.assert_allclose(adjusted_residuals(table), Table(table).standardized_resids, rtol=0, atol=1e-9)


def test_zero_cells_follow_the_paper_formula_not_the_half_shift() -> None:
    rng = np.random.default_rng(7)
    table = rng.poisson(1.0, size=(12, 9))
    assert (table == 0).any()
    ours = adjusted_residuals(table)
    np.testing.assert_allclose(ours, Table(table, shift_zeros=False).standardized_resids, rtol=0, atol=1e-9)
    assert not np.allclose(ours, Table(table).standardized_resids)


@pytest.mark.parametrize("seed", range(3))
def test_sparse_table_residuals_equal_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    rows, cols = random_labels(rng, 3000, 40, 25)
    t = residual_table(rows, cols)
    dense = t.observed.toarray()
    reference = Table(dense, shift_zeros=False).standardized_resids
    np.testing.assert_allclose(t.dense_residuals(), reference, rtol=0, atol=1e-9)
    cells = t.cells()
    np.testing.assert_allclose(cells["residual"], reference[cells["row_index"], cells["col_index"]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(cells["p_value"], 2 * norm.sf(np.abs(cells["residual"])), rtol=1e-12)


def test_critical_value_for_the_papers_3307_comparisons_is_4_33() -> None:
    assert round(bonferroni_critical_value(3307), 2) == 4.33
    assert bonferroni_critical_value(3307) == pytest.approx(4.3269, abs=1e-4)
    # One-sided would give 4.17: the paper's figure is two-sided.
    assert round(bonferroni_critical_value(1), 2) == 1.96
    assert two_sided_p(np.array([bonferroni_critical_value(3307)]))[0] == pytest.approx(0.05 / 3307)


@pytest.mark.parametrize(("m", "alpha"), [(0, 0.05), (10, 0.0), (10, 1.5)])
def test_critical_value_rejects_bad_input(m: int, alpha: float) -> None:
    with pytest.raises(AnalysisInputError):
        bonferroni_critical_value(m, alpha)


def test_counting_follows_appendix_a7_with_deduplication() -> None:
    rows = LabelSet.from_lists(
        "ai_values",
        {1: ["a", "b", "a"], 2: ["a"], 3: ["b", "c"], 4: []},
    )
    cols = LabelSet.from_lists("task", {1: ["x"], 2: ["y"], 3: ["x"], 4: ["y"], 5: ["x"]})
    t = residual_table(rows, cols)
    assert list(t.row_labels) == ["a", "b", "c"]
    assert list(t.col_labels) == ["x", "y"]
    # conv 1 adds (a,x),(b,x) once each despite the repeated "a"; conv 5 has no AI values extracted.
    assert t.observed.toarray().tolist() == [[1, 1], [2, 0], [1, 0]]
    assert t.n_conversations == 4
    assert t.total == 5


def test_empty_label_counts_conversations_without_values() -> None:
    human = LabelSet.from_lists("human_values", {1: ["honesty"], 2: [], 3: []})
    ai = LabelSet.from_lists("ai_values", {1: ["honesty", "clarity"], 2: ["clarity"], 3: ["helpfulness"]})
    t = residual_table(human, ai, empty_row_label="none")
    dense = dict(zip(t.row_labels, t.observed.toarray().tolist(), strict=True))
    assert list(t.col_labels) == ["clarity", "helpfulness", "honesty"]
    assert dense == {"honesty": [1, 0, 1], "none": [1, 1, 0]}


def test_mapping_moves_values_to_their_category_and_counts_each_conversation_once() -> None:
    rows = LabelSet.from_lists("ai_values", {1: ["honesty", "truthfulness"], 2: ["clarity"], 3: ["honesty"]})
    cols = LabelSet.from_lists("task", {1: ["x"], 2: ["x"], 3: ["y"]})
    mapping = {"honesty": "Epistemic", "truthfulness": "Epistemic", "clarity": "Practical"}
    t = residual_table(rows, cols, row_mapping=mapping)
    assert list(t.row_labels) == ["Epistemic", "Practical"]
    assert t.observed.toarray().tolist() == [[1, 1], [1, 0]]


def test_unmapped_values_are_an_error_naming_them_or_dropped_on_request() -> None:
    rows = LabelSet.from_lists("ai_values", {1: ["honesty", "mystery"], 2: ["clarity"]})
    cols = LabelSet.from_lists("task", {1: ["x"], 2: ["y"]})
    with pytest.raises(AnalysisInputError, match="'mystery'"):
        residual_table(rows, cols, row_mapping={"honesty": "E", "clarity": "P"})
    t = residual_table(rows, cols, row_mapping={"honesty": "E", "clarity": "P"}, unmapped="drop")
    assert t.total == 2


def test_privacy_threshold_removes_rare_labels_and_hides_rare_cells() -> None:
    rng = np.random.default_rng(3)
    rows, cols = random_labels(rng, 2000, 60, 40)
    # Plant a value seen in 2 conversations and a task seen in 1.
    rows = LabelSet(
        "ai_values",
        np.concatenate([rows.conversation, [0, 1]]),
        np.concatenate([rows.label, np.array(["rare value", "rare value"], dtype=object)]),
    )
    cols = LabelSet("task", np.arange(2001), np.concatenate([cols.label, np.array(["rare task"], dtype=object)]))
    rows = LabelSet("ai_values", np.concatenate([rows.conversation, [2000]]), np.concatenate([rows.label, ["v000"]]))
    t = residual_table(rows, cols, min_conversations=5)
    assert "rare value" not in set(t.row_labels)
    assert "rare task" not in set(t.col_labels)
    assert t.suppressed_rows == 1
    assert t.suppressed_cols == 1
    small = int(((t.observed.data > 0) & (t.observed.data < 5)).sum())
    assert small > 0
    assert t.suppressed_cells == small
    report = t.report(top_k=5)
    assert (report.cells["observed"].eq(0) | report.cells["observed"].ge(5)).all()
    assert report.summary()["suppressed_cells"] == small
    assert report.summary()["suppressed_rows"] == 1


def test_odds_ratios_equal_statsmodels_2x2_with_haldane_correction() -> None:
    rng = np.random.default_rng(11)
    table = rng.integers(0, 40, size=(6, 5))
    table[0, 0] = 0
    n = table.sum()
    r_tot, c_tot = table.sum(axis=1), table.sum(axis=0)
    i, j = np.meshgrid(np.arange(6), np.arange(5), indexing="ij")
    i, j = i.ravel(), j.ravel()
    ors = collapsed_odds_ratios(table[i, j], r_tot[i], c_tot[j], n)
    for k, (a, b) in enumerate(zip(i, j, strict=True)):
        two = np.array(
            [[table[a, b], r_tot[a] - table[a, b]], [c_tot[b] - table[a, b], n - r_tot[a] - c_tot[b] + table[a, b]]]
        )
        corrected = bool((two == 0).any())
        # Haldane-Anscombe adds 0.5 to all four cells (statsmodels' shift_zeros only replaces the zeros).
        ref = Table2x2(two + 0.5 if corrected else two, shift_zeros=False)
        assert ors.odds_ratio[k] == pytest.approx(ref.oddsratio, rel=1e-12)
        low, high = ref.oddsratio_confint(alpha=0.05, method="normal")
        assert ors.low[k] == pytest.approx(low, rel=1e-9)
        assert ors.high[k] == pytest.approx(high, rel=1e-9)
        assert ors.corrected[k] == corrected
    assert ors.corrected[0]


def test_report_top_associations_per_row_and_column_match_the_dense_matrix() -> None:
    rng = np.random.default_rng(5)
    rows, cols = random_labels(rng, 4000, 35, 20)
    t = residual_table(rows, cols)
    dense = t.dense_residuals()
    report = t.report(top_k=3)
    top_rows = report.top_by_row()
    for i, label in enumerate(t.row_labels):
        expected = sorted(dense[i], reverse=True)[:3]
        got = top_rows[top_rows["row"] == label]["residual"].to_numpy()
        np.testing.assert_allclose(got, expected, atol=1e-12)
    low_cols = report.top_by_col(negative=True)
    for j, label in enumerate(t.col_labels):
        expected = sorted(dense[:, j])[:3]
        got = low_cols[low_cols["col"] == label]["residual"].to_numpy()
        np.testing.assert_allclose(got, expected, atol=1e-12)
    beyond = np.abs(dense) >= t.critical_value
    assert set(report.cells.loc[report.cells["significant"], "residual"]) <= set(dense[beyond])
    exact_ok = report.cells["p_exact"] <= t.alpha / t.m
    assert (report.cells["significant"] == (report.cells["residual"].abs().ge(t.critical_value) & exact_ok)).all()
    assert t.m == len(t.row_labels)


def test_comparison_families() -> None:
    rng = np.random.default_rng(1)
    rows, cols = random_labels(rng, 500, 12, 7)
    assert residual_table(rows, cols, comparisons="cols").m == 7
    assert residual_table(rows, cols, comparisons="cells").m == 84
    with pytest.raises(AnalysisInputError, match="comparisons"):
        residual_table(rows, cols, comparisons="everything")  # type: ignore[arg-type]


def test_block_computation_matches_whole_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    import results.residuals as mod

    rng = np.random.default_rng(9)
    rows, cols = random_labels(rng, 3000, 50, 30)
    t = residual_table(rows, cols)
    whole = t.dense_residuals()
    full_report = t.report(top_k=4).cells.sort_values(["row", "col"], ignore_index=True)
    monkeypatch.setattr(mod, "BLOCK_CELLS", 70)  # two rows per block
    np.testing.assert_array_equal(t.dense_residuals(), whole)
    blocked = t.report(top_k=4).cells.sort_values(["row", "col"], ignore_index=True)
    np.testing.assert_allclose(blocked["residual"], full_report["residual"])


def test_mismatched_input_is_rejected() -> None:
    with pytest.raises(AnalysisInputError, match="ai_values"):
        LabelSet("ai_values", np.arange(3), np.array(["a", "b"], dtype=object))
    with pytest.raises(AnalysisInputError, match="min_conversations"):
        residual_table(LabelSet.from_lists("a", {1: ["x"]}), LabelSet.from_lists("b", {1: ["y"]}), min_conversations=0)


def test_exact_cell_p_equals_scipy_hypergeometric() -> None:
    from scipy.stats import hypergeom

    from results.cell_stats import exact_cell_p

    rng = np.random.default_rng(21)
    total = 20_000
    n_i = rng.integers(1, 3000, size=400)
    n_j = rng.integers(1, 3000, size=400)
    mean = n_i * n_j / total
    o = np.maximum(0, np.round(mean + rng.normal(0, 3, size=400) * np.sqrt(mean + 1))).astype(np.int64)
    o = np.minimum(o, np.minimum(n_i, n_j))
    ours = exact_cell_p(o, n_i, n_j, total)
    upper = o >= mean
    tail = np.where(upper, hypergeom.sf(o - 1, total, n_i, n_j), hypergeom.cdf(o, total, n_i, n_j))
    np.testing.assert_allclose(ours, np.minimum(1, 2 * tail), rtol=1e-8, atol=1e-300)
    # A single conversation in a cell expected 0.01 times: huge residual, unremarkable exact p.
    p_single = exact_cell_p(np.array([1]), np.array([10]), np.array([20]), 20_000)[0]
    assert p_single == pytest.approx(2 * hypergeom.sf(0, 20_000, 10, 20), rel=1e-9)
    assert p_single > 0.01


@pytest.mark.parametrize(("bad", "fragment"), [(np.nan, "nan"), (np.inf, "inf"), (2.5, "2.5")])
def test_a_non_finite_or_fractional_cell_raises_naming_it(bad: float, fragment: str) -> None:
    """Audit finding: one NaN or inf in the table turned every residual into NaN without a word."""
    table = np.array([[10.0, 4.0, 6.0], [3.0, 8.0, 5.0]])
    table[1, 2] = bad
    with pytest.raises(StatsInputError, match=rf"{fragment}.*\(1, 2\)"):
        adjusted_residuals(table)
