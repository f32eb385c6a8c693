"""The synthetic dataset: calibration to the paper, planted associations found, false positives controlled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.synthetic import RESPONSE_TYPE_SHARES, Plant, SyntheticConfig, generate, load_value_frequencies, task_name
from results.residuals import residual_table


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = generate(n_conversations=2000, seed=4)
    b = generate(n_conversations=2000, seed=4)
    c = generate(n_conversations=2000, seed=5)
    np.testing.assert_array_equal(a.ai_values.label, b.ai_values.label)
    np.testing.assert_array_equal(a.task.label, b.task.label)
    assert not np.array_equal(a.task.label, c.task.label)


def test_calibration_matches_the_papers_figures() -> None:
    n = 60_000
    d = generate(n_conversations=n, seed=1)
    ai_per_conv = len(d.ai_values.label) / n
    assert ai_per_conv == pytest.approx(4.0, abs=0.1)
    assert 1 - len(np.unique(d.ai_values.conversation)) / n == pytest.approx(0.014, abs=0.003)
    assert len(d.human_values.label) / n == pytest.approx(1.48, abs=0.05)
    assert 1 - len(np.unique(d.human_values.conversation)) / n == pytest.approx(0.549, abs=0.01)
    shares = pd.Series(d.response_type.label).value_counts(normalize=True) * 100
    for name, pct in RESPONSE_TYPE_SHARES.items():
        assert shares[name] == pytest.approx(pct, abs=0.6)
    tasks = pd.Series(d.task.label).value_counts()
    assert tasks.index[0] == task_name(1)
    assert tasks.iloc[0] > 10 * tasks.iloc[100]  # long-tailed
    top = pd.Series(d.ai_values.label).value_counts().index[:5].tolist()
    assert top[:2] == ["helpfulness", "professionalism"] or set(top[:2]) == {"helpfulness", "professionalism"}
    # No duplicated (conversation, value).
    pairs = pd.DataFrame({"c": d.ai_values.conversation, "v": d.ai_values.label})
    assert not pairs.duplicated().any()


def test_published_frequencies_are_followed(shared_data: Path) -> None:
    path = shared_data / "values-in-the-wild" / "values_frequencies.csv"
    freqs, source = load_value_frequencies(path)
    assert len(freqs) == 3307
    assert source == str(path)
    d = generate(SyntheticConfig(n_conversations=50_000, seed=2, value_frequencies=path))
    share = pd.Series(d.ai_values.label).value_counts() / 50_000 * 100
    for value in ["helpfulness", "professionalism", "transparency", "clarity", "thoroughness"]:
        assert share[value] == pytest.approx(freqs[value], rel=0.15)


def test_planted_association_is_found() -> None:
    task = task_name(8)
    d = generate(n_conversations=30_000, seed=3, n_tasks=300, plants=(Plant("healthy boundaries", task, 6.0),))
    t = residual_table(d.ai_values, d.task, min_conversations=5, comparisons="cells")
    report = t.report(top_k=3)
    sig = report.significant
    assert ((sig["row"] == "healthy boundaries") & (sig["col"] == task)).any()
    top_for_task = report.top_by_col()
    assert top_for_task[top_for_task["col"] == task]["row"].iloc[0] == "healthy boundaries"
    cell = sig[(sig["row"] == "healthy boundaries") & (sig["col"] == task)].iloc[0]
    assert cell["odds_ratio"] > 3
    assert cell["or_low"] > 1
    # Nothing else is flagged when only one association was planted (family = whole table).
    assert len(sig[sig["residual"] > 0]) == 1


@pytest.mark.slow
def test_no_planted_association_keeps_the_familywise_error_at_most_5_percent() -> None:
    """80 seeded null datasets (seeds 1000-1079), 4,000 conversations, 40 tasks each.

    Family = every cell of the table: the share of datasets with any significant cell must stay at
    or under 5%. Family = the paper's (the row values within one task): the share of (dataset, task)
    families with any significant cell must stay at or under 5%. The residual alone (|r| >= the
    critical value, without the exact test) fails this on the same data: the check has teeth.
    """
    runs = 80
    residual_only = 0
    any_cells = 0
    families = 0
    families_hit = 0
    for seed in range(1000, 1000 + runs):
        d = generate(n_conversations=4000, seed=seed, n_tasks=40)
        table = residual_table(d.ai_values, d.task, comparisons="cells")
        any_cells += bool(table.report(top_k=0).cells["significant"].any())
        residual_only += bool((np.abs(table.dense_residuals()) >= table.critical_value).any())
        per_task = residual_table(d.ai_values, d.task, comparisons="rows")
        sig = per_task.report(top_k=0).significant
        families += per_task.shape[1]
        families_hit += sig["col"].nunique()
    assert any_cells / runs <= 0.05
    assert residual_only / runs > 0.5
    assert families_hit / families <= 0.05
