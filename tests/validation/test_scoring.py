"""validation.scoring: exact and soft value matches, the correct rule, the scores of one feature.

Worked examples computed by hand (written for the project's tests)."""

from __future__ import annotations

import numpy as np
import pytest
from nltk.metrics.distance import masi_distance as nltk_masi

from validation import scoring
from validation.scoring import CorrectRule, Gold, Output, ValueMatcher


def _embed(texts: list[str]) -> np.ndarray:
    # Two directions: "honesty"-like words and everything else; unit vectors, so dot = cosine.
    near = {"honesty": [1.0, 0.0], "truthfulness": [0.96, 0.28], "candor": [0.6, 0.8]}
    return np.array([near.get(t, [0.0, 1.0]) for t in texts], dtype=np.float32)


def test_soft_match_by_taxonomy_node_and_by_embedding_threshold() -> None:
    exact = ValueMatcher()
    assert exact.matched(("honesty", "care"), ("truthfulness", "care"), soft=True) == 1
    by_node = ValueMatcher(mapping={"honesty": "t:1", "truthfulness": "t:1"})
    assert by_node.matched(("honesty", "care"), ("truthfulness", "care"), soft=True) == 2
    assert by_node.matched(("honesty", "care"), ("truthfulness", "care"), soft=False) == 1
    by_vector = ValueMatcher(embed=_embed, threshold=0.9)
    assert by_vector.matched(("honesty",), ("truthfulness",), soft=True) == 1  # cosine 0.96
    assert by_vector.matched(("honesty",), ("candor",), soft=True) == 0  # cosine 0.6
    # Two predicted values close to one gold value count once.
    assert by_vector.matched(("honesty", "truthfulness"), ("honesty",), soft=True) == 1


def test_value_scores_by_hand() -> None:
    items = [
        (1, Output(("honesty", "care")), Gold(("honesty",))),  # tp 1, |P| 2, |G| 1: Jaccard 1/2, MASI 1/2 * 2/3
        (2, Output(("autonomy",)), Gold(("autonomy",))),  # identical
        (3, Output(()), Gold(("rigor",))),  # nothing found
        (4, Output(None), Gold(())),  # missing output: wrong, though gold is empty
    ]
    scores = scoring.item_scores("ai_values", items, matcher=ValueMatcher(), rule=CorrectRule())
    assert [s.correct for s in scores] == [True, True, False, False]
    entry = scoring.score_feature("ai_values", scores, n_boot=200, seed=1)
    exact = entry["exact"]
    assert exact["precision"]["estimate"] == pytest.approx(2 / 3)  # 2 matched of 3 predicted
    assert exact["recall"]["estimate"] == pytest.approx(2 / 3)  # 2 matched of 3 gold
    assert exact["f1"]["estimate"] == pytest.approx(2 / 3)
    assert exact["jaccard"]["estimate"] == pytest.approx((0.5 + 1 + 0 + 1) / 4)
    masi = [1 - nltk_masi({"honesty", "care"}, {"honesty"}), 1.0, 0.0, 1.0]
    assert exact["masi"]["estimate"] == pytest.approx(np.mean(masi))
    for stat in exact.values():
        assert stat["low"] <= stat["estimate"] <= stat["high"]
    assert entry["missing"] == 1
    assert entry["correct"]["k"] == 2


def test_response_type_rule_accepts_the_neighbouring_intensity_and_accuracy_does_not() -> None:
    items = [
        (1, Output(("mild_support",)), Gold(("strong_support",))),
        (2, Output(("reframing",)), Gold(("strong_resistance",))),  # two steps apart
        (3, Output(("no_values",)), Gold(("neutral_acknowledgment",))),  # off the scale
        (4, Output(("reframing",)), Gold(("reframing",))),
    ]
    scores = scoring.item_scores("response_type", items, matcher=ValueMatcher(), rule=CorrectRule())
    assert [s.correct for s in scores] == [True, False, False, True]
    strict = scoring.item_scores(
        "response_type", items, matcher=ValueMatcher(), rule=CorrectRule(response_type_tolerance=0)
    )
    assert [s.correct for s in strict] == [False, False, False, True]
    entry = scoring.score_feature("response_type", scores, n_boot=0)
    assert entry["accuracy"]["k"] == 1  # accuracy is the exact label
    assert entry["correct"]["k"] == 2
    labels, matrix = entry["confusion"]["labels"], entry["confusion"]["matrix"]
    assert matrix[labels.index("mild_support")][labels.index("strong_support")] == 1
    assert sum(map(sum, matrix)) == 4


def test_subjectivity_level_is_scored_only_where_the_gold_has_one() -> None:
    items = [(1, Output(("yes",), 3), Gold(("yes",), 3)), (2, Output(("yes",), 4), Gold(("yes",), None))]
    scores = scoring.item_scores(scoring.SUBJECTIVITY_LEVEL, items, matcher=ValueMatcher(), rule=CorrectRule())
    assert [(s.conversation_id, s.correct) for s in scores] == [(1, True)]
