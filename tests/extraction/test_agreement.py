"""Confidence from N samples, against scikit-learn's Jaccard score as the reference."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from sklearn.metrics import jaccard_score
from sklearn.preprocessing import MultiLabelBinarizer

from extraction.agreement import jaccard, single_label_consensus, value_set_consensus


def sklearn_mean_pairwise_jaccard(samples: list[tuple[str, ...]]) -> float:
    matrix = MultiLabelBinarizer().fit_transform(samples)
    scores = [jaccard_score(matrix[i], matrix[j], zero_division=1.0) for i, j in combinations(range(len(samples)), 2)]
    return float(np.mean(scores))


@pytest.mark.parametrize(
    "samples",
    [
        [("a", "b"), ("a", "c"), ("a", "b")],
        [("honesty",), ("honesty", "care"), ("care", "fairness", "honesty"), ()],
        [(), (), ("x",)],
        [("p", "q", "r"), ("s",), ("p", "s"), ("q", "r"), ("r",)],
    ],
)
def test_mean_pairwise_jaccard_matches_sklearn(samples: list[tuple[str, ...]]) -> None:
    assert value_set_consensus(samples).confidence == pytest.approx(sklearn_mean_pairwise_jaccard(samples))


def test_value_set_consensus_picks_the_medoid() -> None:
    result = value_set_consensus([("a", "c"), ("a", "b"), ("a", "b")])
    assert (result.labels, result.index) == (("a", "b"), 1)


def test_unparsable_samples_disagree_with_everything() -> None:
    assert jaccard(None, frozenset()) == 0.0
    result = value_set_consensus([("a",), None, ("a",)])
    assert result.confidence == pytest.approx(1 / 3)
    assert result.labels == ("a",)
    assert value_set_consensus([None, None]).labels is None


def test_modal_share_for_single_labels() -> None:
    result = single_label_consensus([("reframing",), ("mild_support",), ("reframing",), None])
    assert (result.labels, result.index, result.confidence) == (("reframing",), 0, 0.5)
    tie = single_label_consensus([("b",), ("a",)])
    assert (tie.labels, tie.confidence) == (("b",), 0.5)
    assert single_label_consensus([None]).labels is None
