"""Sampling: reproducible selections, exact proportional allocation, uncertainty order, balanced assignment."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from annotate import sampling


def _population(n: int = 100) -> pd.DataFrame:
    ids = np.arange(1000, 1000 + n)
    strata = np.where(ids % 10 < 5, "a", np.where(ids % 10 < 8, "b", "c"))  # 50% / 30% / 20%
    confidence = ((ids * 37) % 100) / 100
    return pd.DataFrame({"stratum": strata, "confidence": confidence}, index=ids)


def test_random_is_reproducible_and_seed_dependent() -> None:
    pop = _population()
    first = sampling.select_random(pop, size=20, seed=42)
    assert first == sampling.select_random(pop.sample(frac=1, random_state=1), size=20, seed=42)
    assert first.unit_ids != sampling.select_random(pop, size=20, seed=43).unit_ids
    assert len(set(first.unit_ids)) == 20
    assert set(first.unit_ids) <= set(pop.index)


def test_random_matches_numpy_choice_over_sorted_ids() -> None:
    pop = _population(30)
    expected = np.random.default_rng(7).choice(np.sort(pop.index.to_numpy()), size=5, replace=False)
    assert sampling.select_random(pop, size=5, seed=7).unit_ids == tuple(int(i) for i in expected)


def test_proportional_allocation_sums_exactly_and_follows_hamilton() -> None:
    counts = pd.Series({"a": 50, "b": 30, "c": 20})
    rng = np.random.default_rng(0)
    assert sampling.proportional_allocation(counts, 10, rng) == {"a": 5, "b": 3, "c": 2}
    # 7 over 50/30/20: quotas 3.5, 2.1, 1.4 -> floors 3, 2, 1, the remaining one to the largest remainder (a).
    assert sampling.proportional_allocation(counts, 7, rng) == {"a": 4, "b": 2, "c": 1}
    # Capped at the stratum size.
    assert sampling.proportional_allocation(pd.Series({"a": 1, "b": 9}), 10, rng) == {"a": 1, "b": 9}


def test_stratified_sample_draws_the_allocation_from_each_stratum() -> None:
    pop = _population()
    chosen = sampling.select_stratified(pop, size=20, seed=5)
    counts = Counter(pop.loc[list(chosen.unit_ids), "stratum"])
    assert counts == {"a": 10, "b": 6, "c": 4} == chosen.allocation
    assert chosen.strata == tuple(pop.loc[list(chosen.unit_ids), "stratum"])
    assert chosen == sampling.select_stratified(pop, size=20, seed=5)


def test_uncertainty_first_takes_the_lowest_confidence_and_puts_unknown_last() -> None:
    pop = _population(10)
    pop.loc[1003, "confidence"] = np.nan
    chosen = sampling.select_uncertainty(pop, size=10, seed=1)
    confidences = pop.loc[list(chosen.unit_ids), "confidence"].to_numpy()
    assert np.all(np.diff(confidences[:-1]) >= 0)
    assert chosen.unit_ids[-1] == 1003
    three = sampling.select_uncertainty(pop, size=3, seed=1)
    assert set(three.unit_ids) == set(pop["confidence"].nsmallest(3).index)


@pytest.mark.parametrize(("size", "message"), [(0, "at least 1"), (101, "exceeds the population of 100")])
def test_bad_sizes_are_refused(size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sampling.select_random(_population(), size=size, seed=0)


def test_assignment_gives_distinct_annotators_balanced_load_and_overlap_for_every_pair() -> None:
    plan = sampling.assign_reviewers(60, 4, 2, seed=9)
    assert all(len(set(p)) == 2 for p in plan)
    load = Counter(a for p in plan for a in p)
    assert set(load.values()) == {30}
    pairs = Counter(tuple(sorted(p)) for p in plan)
    assert set(pairs) == set(combinations(range(4), 2))
    assert plan == sampling.assign_reviewers(60, 4, 2, seed=9)
    with pytest.raises(ValueError, match="need at least 3 annotators"):
        sampling.assign_reviewers(5, 2, 3, seed=0)
