"""Choosing which conversations of an extraction run people review: pure functions, no Django.

The population is a DataFrame indexed by conversation id with a ``stratum`` column (for stratified
samples) and a ``confidence`` column (for uncertainty-first samples). Every choice is driven by a
``numpy.random.Generator`` seeded by the caller, so the same population, size and seed give the same
sample in the same order.

- simple random: ``size`` units without replacement (``Generator.choice``).
- stratified: proportional allocation ``n_h = size · N_h / N`` rounded by the largest-remainder
  (Hamilton) method, so the allocations sum to ``size`` exactly, capped at ``N_h``; then a simple random
  sample within each stratum (Cochran, *Sampling Techniques*, 3rd ed., 1977, §5.5 on proportional
  allocation). ``min_per_stratum`` makes the allocation disproportionate: every stratum first gets that many
  units (or all it has), the rest is allocated proportionally; the estimates then weigh strata by N_h/N.
- uncertainty (a probability design): Poisson sampling, each unit drawn independently with probability
  π_i = min(1, c · max(u_i, floor)), u_i = 1 - confidence (1 when unknown) and c set so that Σ π_i = size
  (the expected size; capped units get π = 1 and c is solved again). The floor gives every unit a chance, so
  the Hájek estimate is unbiased for the run (active testing, Kossen et al., ICML 2021; active statistical
  inference, Zrnic & Candès, ICML 2024; Poisson sampling: Särndal et al. 1992, §3.5).
- find errors: the ``size`` units with the lowest confidence (agreement among repeated samples); units
  without a confidence come last; ties are ordered at random (seeded). Not a probability sample: it finds
  errors fast but estimates nothing for the run (its inclusion probabilities are unknown, ``None``).

Every selection carries each unit's inclusion probability (``None`` for find errors): n/N for simple random,
n_h/N_h for stratified, π_i for uncertainty.

The review order is shuffled (seeded) for random and stratified samples, so reviewers do not see the
strata in blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Selection:
    unit_ids: tuple[int, ...]
    strata: tuple[str, ...]
    allocation: dict[str, int]
    inclusion_probabilities: tuple[float | None, ...] = ()
    stratum_sizes: dict[str, int] = field(default_factory=dict)


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
        inclusion_probabilities=(size / len(population),) * size,
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


def minimum_allocation(counts: pd.Series, size: int, minimum: int, rng: np.random.Generator) -> dict[str, int]:
    """Each stratum first gets min(``minimum``, N_h); the rest of ``size`` is allocated proportionally to the
    strata's remaining units (largest remainder). Disproportionate whenever a small stratum is lifted."""
    counts = counts.sort_index()
    floor = np.minimum(counts.to_numpy(), minimum)
    if int(floor.sum()) > size:
        raise ValueError(
            f"{len(counts)} strata with at least {minimum} each need {int(floor.sum())} units, more than size {size}"
        )
    rest = proportional_allocation(counts - floor, size - int(floor.sum()), rng) if size > floor.sum() else {}
    return {str(k): int(f) + rest.get(str(k), 0) for k, f in zip(counts.index, floor, strict=True)}


def select_stratified(population: pd.DataFrame, *, size: int, seed: int, min_per_stratum: int = 0) -> Selection:
    _check(population, size)
    if "stratum" not in population:
        raise ValueError("a stratified sample needs a 'stratum' for every conversation")
    if min_per_stratum < 0:
        raise ValueError(f"min_per_stratum must be 0 or more, got {min_per_stratum}")
    rng = np.random.default_rng(seed)
    strata = population["stratum"].fillna("").astype(str)
    counts = strata.value_counts()
    if min_per_stratum:
        allocation = minimum_allocation(counts, size, min_per_stratum, rng)
    else:
        allocation = proportional_allocation(counts, size, rng)
    chosen: list[int] = []
    for stratum, n in allocation.items():
        if n:
            ids = np.sort(strata.index[strata == stratum].to_numpy())
            chosen.extend(int(i) for i in rng.choice(ids, size=n, replace=False))
    order = rng.permutation(len(chosen))
    unit_ids = tuple(chosen[i] for i in order)
    unit_strata = tuple(strata[u] for u in unit_ids)
    sizes = {str(k): int(v) for k, v in counts.items()}
    return Selection(
        unit_ids=unit_ids,
        strata=unit_strata,
        allocation=allocation,
        inclusion_probabilities=tuple(allocation[s] / sizes[s] for s in unit_strata),
        stratum_sizes=sizes,
    )


def poisson_probabilities(uncertainty: np.ndarray, size: float, floor: float) -> np.ndarray:
    """π_i = min(1, c · max(u_i, floor)) with Σ π_i = size: c is solved, the units capped at 1 are fixed, and c is
    solved again over the others until none more reaches 1 (at most one pass per unit)."""
    if not 0.0 < floor <= 1.0:
        raise ValueError(f"the floor must be within (0, 1], got {floor}")
    score = np.maximum(np.nan_to_num(uncertainty, nan=1.0), floor)
    pi = np.zeros_like(score)
    capped = np.zeros(score.size, dtype=bool)
    for _ in range(score.size):
        free = ~capped
        c = (size - capped.sum()) / score[free].sum()
        pi[free] = c * score[free]
        pi[capped] = 1.0
        over = free & (pi >= 1.0)
        if not over.any():
            break
        capped |= over
    return np.minimum(pi, 1.0)


def select_uncertainty(population: pd.DataFrame, *, size: int, seed: int, floor: float = 0.1) -> Selection:
    """Poisson sampling with probability rising with the model's uncertainty (see the module docstring); ``size``
    is the expected number of units, the drawn number varies around it."""
    _check(population, size)
    rng = np.random.default_rng(seed)
    ids = np.sort(population.index.to_numpy())
    confidence = population["confidence"].reindex(ids).to_numpy(dtype=float)
    pi = poisson_probabilities(1.0 - confidence, float(size), floor)
    drawn = rng.random(len(ids)) < pi
    order = rng.permutation(int(drawn.sum()))
    chosen, chosen_pi = ids[drawn][order], pi[drawn][order]
    strata = population["stratum"].reindex(chosen).fillna("").astype(str) if "stratum" in population else None
    return Selection(
        unit_ids=tuple(int(i) for i in chosen),
        strata=tuple(strata) if strata is not None else ("",) * len(chosen),
        allocation={},
        inclusion_probabilities=tuple(float(p) for p in chosen_pi),
    )


def select_find_errors(population: pd.DataFrame, *, size: int, seed: int) -> Selection:
    """The ``size`` least confident units (bottom-k): finds errors, estimates nothing for the run."""
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
        inclusion_probabilities=(None,) * size,
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
