"""stats/sets.py against NLTK's set distances, and machine-versus-reviewer set agreement."""

from __future__ import annotations

import math
from typing import Any

import pytest
from nltk.metrics import distance as nltk_distance

from stats.errors import LengthMismatchError
from stats.sets import jaccard_distance, masi_distance, set_agreement


def test_set_distances_match_nltk() -> None:
    pairs: list[tuple[set[Any], set[Any]]] = [
        ({"a"}, {"a"}),
        ({"a", "b"}, {"a"}),
        ({"a", "b"}, {"b", "c"}),
        ({"a"}, {"b"}),
        ({1, 2}, {1, 2, 3, 4}),
    ]
    for a, b in pairs:
        assert masi_distance(a, b) == pytest.approx(nltk_distance.masi_distance(set(a), set(b)), abs=1e-12)
        assert jaccard_distance(a, b) == pytest.approx(nltk_distance.jaccard_distance(set(a), set(b)), abs=1e-12)
    assert masi_distance(set(), set()) == 0.0


def test_set_agreement() -> None:
    res = set_agreement([["a", "b"], ["c"], ["d"]], [["a", "b"], ["c", "e"], ["f"]])
    assert res.exact_match == pytest.approx(1 / 3)
    assert res.mean_jaccard == pytest.approx((1 + 0.5 + 0) / 3)
    assert res.mean_masi == pytest.approx((1 + 0.5 * 2 / 3 + 0) / 3)
    with pytest.raises(LengthMismatchError):
        set_agreement([["a"]], [])
    assert math.isclose(masi_distance(["a"], ["a", "b"]), 1 - 0.5 * 2 / 3)
