"""results.descriptive on hand-counted examples and against direct pandas computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.synthetic import RESPONSE_TYPE_SHARES, generate
from results.descriptive import (
    category_shares,
    coefficient_of_variation,
    compare_models,
    mirrored_values,
    response_type_distribution,
    safety_review,
    stated_vs_all,
    top_value_pairs,
    value_mirroring,
    value_shares,
)
from results.labels import AnalysisInputError, LabelSet

AI = LabelSet.from_lists(
    "ai_values",
    {
        1: ["helpfulness", "honesty", "helpfulness"],
        2: ["helpfulness", "authenticity"],
        3: ["clarity"],
        4: ["helpfulness", "ethical boundaries"],
        5: [],
    },
)
HUMAN = LabelSet.from_lists(
    "human_values", {1: ["honesty"], 2: ["authenticity", "efficiency"], 3: [], 4: ["dominance"], 5: []}
)
RESPONSE = LabelSet.from_lists(
    "response_type",
    {1: ["strong_support"], 2: ["strong_support"], 3: ["no_values"], 4: ["strong_resistance"], 5: ["no_values"]},
)


def test_value_shares_count_each_conversation_once_over_extracted_conversations() -> None:
    t = value_shares(AI)
    rows = dict(zip(t.table["value"], t.table["conversations"], strict=True))
    assert rows == {"helpfulness": 3, "authenticity": 1, "clarity": 1, "ethical boundaries": 1, "honesty": 1}
    assert t.n_conversations == 5  # conversation 5 was extracted with no value
    assert t.table.loc[0, "pct"] == pytest.approx(60.0)
    k2 = value_shares(AI, min_conversations=2)
    assert list(k2.table["value"]) == ["helpfulness"]
    assert k2.suppressed == 4


def test_category_shares_use_all_expressions_as_denominator() -> None:
    mapping = {"helpfulness": "Practical", "clarity": "Practical", "honesty": "Epistemic", "authenticity": "Personal"}
    t = category_shares(AI, mapping)
    shares = dict(zip(t.table["category"], t.table["pct"], strict=True))
    assert shares == pytest.approx(
        {"Practical": 400 / 7, "Epistemic": 100 / 7, "Personal": 100 / 7, "(unmapped)": 100 / 7}
    )
    assert t.notes == ("1 value(s) have no category in the mapping",)


def test_response_type_distribution_by_group_and_threshold() -> None:
    groups = {1: "a", 2: "a", 3: "a", 4: "b", 5: "a"}
    t = response_type_distribution(RESPONSE, groups=groups)
    table = t.table.set_index("response_type")
    assert table.loc["strong_support", "pct a"] == pytest.approx(50.0)
    assert table.loc["strong_resistance", "pct b"] == pytest.approx(100.0)
    hidden = response_type_distribution(RESPONSE, groups=groups, min_conversations=2)
    assert "pct b" not in hidden.table.columns  # model b has a single conversation
    assert hidden.suppressed == 1
    assert hidden.table.set_index("response_type")["pct a"].isna().sum() == 0


def test_response_type_distribution_reproduces_table_9_on_synthetic_data() -> None:
    d = generate(n_conversations=40_000, seed=8)
    models = dict(enumerate(d.model))
    t = response_type_distribution(d.response_type, groups=models).table.set_index("response_type")
    for name, pct in RESPONSE_TYPE_SHARES.items():
        assert t.loc[name, "pct claude-3-5-sonnet-20241022"] == pytest.approx(pct, abs=0.7)


def test_value_mirroring_by_response_type() -> None:
    t = value_mirroring(AI, HUMAN, RESPONSE).table.set_index("response_type")
    # strong support: conversations 1 (honesty mirrored) and 2 (authenticity mirrored) -> 100%.
    assert t.loc["strong_support", "mirroring_pct"] == pytest.approx(100.0)
    assert t.loc["strong_resistance", "mirroring_pct"] == pytest.approx(0.0)
    assert "no_values" not in t.index  # no human value in those conversations: not in the denominator


def test_mirrored_values_per_human_value() -> None:
    t = mirrored_values(AI, HUMAN).table.set_index("value")
    assert t.loc["honesty", "mirroring_pct"] == pytest.approx(100.0)
    assert "dominance" not in t.index  # never an AI value, so it cannot be mirrored


def test_top_value_pairs_with_none_and_by_response_type() -> None:
    t = top_value_pairs(AI, HUMAN).table
    pairs = {(h, a): n for h, a, n in zip(t["human_value"], t["ai_value"], t["conversations"], strict=True)}
    assert pairs[("none", "clarity")] == 1
    assert pairs[("honesty", "helpfulness")] == 1
    assert pairs[("authenticity", "authenticity")] == 1
    assert t["pct"].iloc[0] == pytest.approx(100 * t["conversations"].iloc[0] / 5)
    by = top_value_pairs(AI, HUMAN, response=RESPONSE, include_none=False).table
    resist = by[by["response_type"] == "strong_resistance"]
    assert set(zip(resist["human_value"], resist["ai_value"], strict=True)) == {
        ("dominance", "helpfulness"),
        ("dominance", "ethical boundaries"),
    }
    assert "none" not in set(by["human_value"])


def test_coefficient_of_variation_equals_a_direct_pandas_computation() -> None:
    d = generate(n_conversations=5000, seed=12, n_tasks=30)
    got = coefficient_of_variation(d.ai_values, d.task, min_task_conversations=20).table.set_index("value")
    long = pd.DataFrame({"c": d.ai_values.conversation, "v": d.ai_values.label})
    task = pd.Series(d.task.label, index=d.task.conversation, name="t")
    long["t"] = task.loc[long["c"]].to_numpy()
    sizes = task.value_counts()
    kept = sizes[sizes >= 20].index
    rates = (
        long[long["t"].isin(kept)].groupby(["v", "t"]).size().unstack(fill_value=0).reindex(columns=kept, fill_value=0)
    )
    rates = rates / sizes[kept]
    expected = (rates.std(axis=1, ddof=0) / rates.mean(axis=1)).dropna()
    common = expected.index.intersection(got.index)
    assert len(common) > 100
    np.testing.assert_allclose(got.loc[common, "cv"], expected.loc[common], rtol=1e-9)
    # The frequent values are the stable ones, as in the paper.
    assert got.loc["helpfulness", "cv"] < got["cv"].median()


def test_stated_vs_all_per_response_type() -> None:
    stated = LabelSet.from_lists("ai_values_stated", {1: ["honesty"], 2: [], 3: [], 4: ["ethical boundaries"], 5: []})
    t = stated_vs_all(AI, stated, RESPONSE).table.set_index("response_type")
    assert t.loc["strong_resistance", "pct_with_stated_values"] == pytest.approx(100.0)
    assert t.loc["strong_support", "pct_with_stated_values"] == pytest.approx(50.0)
    assert t.loc["no_values", "pct_with_ai_values"] == pytest.approx(50.0)


def test_compare_models_ranks_values_within_each_model() -> None:
    models = {1: "m1", 2: "m1", 3: "m2", 4: "m1", 5: "m2"}
    t = compare_models(AI, models, top=2).table
    m1 = t[t["model"] == "m1"]
    assert m1.iloc[0]["value"] == "helpfulness"
    assert m1.iloc[0]["pct"] == pytest.approx(100.0)
    m2 = t[t["model"] == "m2"]
    assert list(m2["value"]) == ["clarity"]
    assert m2.iloc[0]["pct"] == pytest.approx(50.0)


def test_safety_review_lists_rare_watch_list_values_with_their_tasks() -> None:
    convs = {i: ["helpfulness", "harm prevention"] for i in range(2000)}
    convs[1] = ["dominance", "helpfulness"]
    convs[2] = ["predominance"]
    convs[3] = ["Amorality"]
    ai = LabelSet.from_lists("ai_values", convs)
    tasks = LabelSet.from_lists("task", {i: ["jailbreak roleplay" if i in (1, 3) else "coding"] for i in range(2000)})
    t = safety_review(ai, tasks=tasks)
    assert set(t.table["value"]) == {
        "dominance",
        "Amorality",
    }  # "predominance" is not the word; harm prevention is common
    assert t.table.set_index("value").loc["dominance", "top_tasks"] == ["jailbreak roleplay (1)"]
    assert safety_review(ai, min_conversations=2).suppressed == 2
    with pytest.raises(AnalysisInputError, match="watch-list"):
        safety_review(ai, terms=[" "])


def test_single_valued_feature_with_two_labels_is_an_error() -> None:
    bad = LabelSet.from_lists("response_type", {1: ["strong_support", "reframing"]})
    with pytest.raises(AnalysisInputError, match="conversation 1"):
        response_type_distribution(bad)
