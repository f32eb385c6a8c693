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


def test_find_errors_takes_the_lowest_confidence_and_puts_unknown_last() -> None:
    pop = _population(10)
    pop.loc[1003, "confidence"] = np.nan
    chosen = sampling.select_find_errors(pop, size=10, seed=1)
    confidences = pop.loc[list(chosen.unit_ids), "confidence"].to_numpy()
    assert np.all(np.diff(confidences[:-1]) >= 0)
    assert chosen.unit_ids[-1] == 1003
    three = sampling.select_find_errors(pop, size=3, seed=1)
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


def test_every_selection_carries_its_inclusion_probabilities() -> None:
    pop = _population()
    assert sampling.select_random(pop, size=20, seed=1).inclusion_probabilities == (0.2,) * 20
    strat = sampling.select_stratified(pop, size=20, seed=1)
    assert strat.stratum_sizes == {"a": 50, "b": 30, "c": 20}
    assert set(strat.inclusion_probabilities) == {0.2}  # proportional allocation is self-weighting
    assert sampling.select_find_errors(pop, size=5, seed=1).inclusion_probabilities == (None,) * 5


def test_a_minimum_per_stratum_allocates_disproportionately_with_the_right_probabilities() -> None:
    pop = _population()  # strata of 50, 30, 20
    sel = sampling.select_stratified(pop, size=20, seed=3, min_per_stratum=5)
    # 5 each first; the other 5 go proportionally to the units left (45/25/15 → 2.65/1.47/0.88), largest
    # remainder: a 2+1, b 1, c 0+1. Proportional allocation would have given 10/6/4.
    assert sel.allocation == {"a": 8, "b": 6, "c": 6}
    by_stratum = dict(zip(sel.strata, sel.inclusion_probabilities, strict=True))
    for stratum, n_h in sel.allocation.items():
        assert by_stratum[stratum] == pytest.approx(n_h / sel.stratum_sizes[stratum])
    with pytest.raises(ValueError, match="need 30 units"):
        sampling.select_stratified(pop, size=20, seed=3, min_per_stratum=10)


def test_uncertainty_sampling_is_poisson_with_probabilities_rising_with_uncertainty_and_a_floor() -> None:
    conf = np.array([0.99] * 900 + [0.5] * 90 + [0.0] * 10)
    pi = sampling.poisson_probabilities(1 - conf, 200.0, 0.1)
    assert pi.sum() == pytest.approx(200.0)
    assert pi.max() <= 1.0
    assert pi[-1] == 1.0  # the least confident are capped at certainty
    assert pi[0] == pytest.approx(190 / 135 * 0.1)  # the floor: every output can be drawn
    assert pi[900] == pytest.approx(5 * pi[0])  # uncertainty 0.5 against the floor 0.1
    ids = np.arange(len(conf))
    pop = pd.DataFrame({"confidence": conf}, index=ids)
    sizes = [len(sampling.select_uncertainty(pop, size=200, seed=s).unit_ids) for s in range(200)]
    assert 197 <= float(np.mean(sizes)) <= 203  # the expected size is the requested one
    sel = sampling.select_uncertainty(pop, size=200, seed=0)
    expected = dict(zip(ids, pi, strict=True))
    assert all(p == pytest.approx(expected[u]) for u, p in zip(sel.unit_ids, sel.inclusion_probabilities, strict=True))
    # Empirical inclusion frequency over many draws matches π.
    hits = np.zeros(len(conf))
    for s in range(400):
        hits[list(sampling.select_uncertainty(pop, size=200, seed=s).unit_ids)] += 1
    assert hits[:900].mean() / 400 == pytest.approx(pi[0], rel=0.1)
    assert hits[900:990].mean() / 400 == pytest.approx(pi[900], rel=0.1)
