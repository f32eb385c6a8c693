"""Choosing which conversations of an extraction run people review: pure functions, no Django.

The population is a DataFrame indexed by conversation id with a ``stratum`` column (for stratified
samples) and a ``confidence`` column (for uncertainty-first samples). Every choice is driven by a
``numpy.random.Generator`` seeded by the caller, so the same population, size and seed give the same
sample in the same order.

- simple random: ``size`` units without replacement (``Generator.choice``).
- stratified: proportional allocation ``n_h = size · N_h / N`` rounded by the largest-remainder
  (Hamilton) method, so the allocations sum to ``size`` exactly, capped at ``N_h``; then a simple random
  sample within each stratum (Cochran, *Sampling Techniques*, 3rd ed., 1977, §5.5 on proportional
  allocation).
- uncertainty first: the ``size`` units with the lowest confidence (agreement among repeated samples);
  units without a confidence come last; ties are ordered at random (seeded).

The review order is shuffled (seeded) for random and stratified samples, so reviewers do not see the
strata in blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Selection:
    unit_ids: tuple[int, ...]
    strata: tuple[str, ...]
    allocation: dict[str, int]


def _check(population: pd.DataFrame, size: int) -> None:
    if size < 1:
        raise ValueError(f"sample size must be at least 1, got {size}")
    if size > len(population):
        raise ValueError(f"sample size {size} exceeds the population of {len(population)} conversations")


def select_random(population: pd.DataFrame, *, size: int, seed: int) -> Selection:
    _check(population, size)
    rng = np.random.default_rng(seed)
    ids = np.sort(population.index.to_numpy())
    chosen = rng.choice(ids, size=size, replace=False)
    strata = population["stratum"].reindex(chosen).fillna("").astype(str) if "stratum" in population else None
    return Selection(
        unit_ids=tuple(int(i) for i in chosen),
        strata=tuple(strata) if strata is not None else ("",) * size,
        allocation={},
    )


def proportional_allocation(counts: pd.Series, size: int, rng: np.random.Generator) -> dict[str, int]:
    """Largest-remainder proportional allocation of ``size`` over strata of ``counts`` units (capped at N_h)."""
    counts = counts.sort_index()
    total = int(counts.sum())
    quotas = counts.to_numpy(dtype=float) * size / total
    alloc = np.minimum(np.floor(quotas).astype(int), counts.to_numpy())
    remainder = size - int(alloc.sum())
    # Ties between equal remainders are broken at random (seeded), not by the strata's names.
    order = np.lexsort((rng.random(len(counts)), -(quotas - np.floor(quotas))))
    while remainder > 0:
        progressed = False
        for i in order:
            if remainder == 0:
                break
            if alloc[i] < counts.iloc[i]:
                alloc[i] += 1
                remainder -= 1
                progressed = True
        if not progressed:  # pragma: no cover - impossible while size <= total
            break
    return {str(k): int(v) for k, v in zip(counts.index, alloc, strict=True)}


def select_stratified(population: pd.DataFrame, *, size: int, seed: int) -> Selection:
    _check(population, size)
    if "stratum" not in population:
        raise ValueError("a stratified sample needs a 'stratum' for every conversation")
    rng = np.random.default_rng(seed)
    strata = population["stratum"].fillna("").astype(str)
    allocation = proportional_allocation(strata.value_counts(), size, rng)
    chosen: list[int] = []
    for stratum, n in allocation.items():
        if n:
            ids = np.sort(strata.index[strata == stratum].to_numpy())
            chosen.extend(int(i) for i in rng.choice(ids, size=n, replace=False))
    order = rng.permutation(len(chosen))
    unit_ids = tuple(chosen[i] for i in order)
    return Selection(unit_ids=unit_ids, strata=tuple(strata[u] for u in unit_ids), allocation=allocation)


def select_uncertainty(population: pd.DataFrame, *, size: int, seed: int) -> Selection:
    _check(population, size)
    rng = np.random.default_rng(seed)
    ids = np.sort(population.index.to_numpy())
    confidence = population["confidence"].reindex(ids).to_numpy(dtype=float)
    missing = np.isnan(confidence)
    # lexsort: last key is primary -> (has no confidence, confidence, random tie-break).
    order = np.lexsort((rng.random(len(ids)), np.where(missing, np.inf, confidence), missing))
    chosen = ids[order[:size]]
    strata = population["stratum"].reindex(chosen).fillna("").astype(str) if "stratum" in population else None
    return Selection(
        unit_ids=tuple(int(i) for i in chosen),
        strata=tuple(strata) if strata is not None else ("",) * size,
        allocation={},
    )


def assign_reviewers(n_items: int, n_annotators: int, per_item: int, seed: int) -> list[tuple[int, ...]]:
    """For each item, the indices of its ``per_item`` distinct annotators.

    Items cycle through every ``per_item``-subset of the annotators (in a seeded order), so every pair of
    annotators shares items once there are at least as many items as subsets, and loads differ by at most
    one full cycle's share: what pairwise reliability statistics need.
    """
    if per_item < 1:
        raise ValueError(f"reviewers per item must be at least 1, got {per_item}")
    if per_item > n_annotators:
        raise ValueError(f"{per_item} reviewers per item need at least {per_item} annotators, got {n_annotators}")
    rng = np.random.default_rng(seed)
    subsets = list(combinations(range(n_annotators), per_item))
    order = rng.permutation(len(subsets))
    return [subsets[order[i % len(subsets)]] for i in range(n_items)]
