"""Confidence without log-probabilities: agreement among N samples of the same item.

The API gives no token probabilities, so an item is answered N times at a temperature above zero
and the agreement among the answers is its confidence (self-consistency; Wang et al., 2023,
"Self-Consistency Improves Chain of Thought Reasoning in Language Models", ICLR; the same idea as
sampling-based uncertainty in Manakul et al., 2023, "SelfCheckGPT").

- **Single-label features** (subjectivity, response type, task): the answer is the modal label and
  the confidence its share, ``c = max_l #{i : a_i = l} / N``; ties go to the label seen first.
- **Value sets** (AI values, human values, AI values stated): the confidence is the mean pairwise
  Jaccard similarity ``c = (2 / (N(N-1))) · Σ_{i<j} |A_i ∩ A_j| / |A_i ∪ A_j|`` with
  ``J(∅, ∅) = 1``; the answer is the medoid, the sample with the highest mean similarity to the
  others (ties: first).

A sample that could not be parsed (``None``) disagrees with every other sample: it is its own
label that no other sample shares, and its Jaccard similarity with anything is 0.
Pure module, no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from stats.sets import jaccard_similarity


@dataclass(frozen=True)
class Consensus:
    labels: tuple[str, ...] | None  # None: no sample could be parsed
    index: int  # which sample was chosen (its raw text is kept)
    confidence: float


def jaccard(a: frozenset[str] | None, b: frozenset[str] | None) -> float:
    """Jaccard similarity (:func:`stats.sets.jaccard_similarity`), 0 when either sample could not be parsed."""
    if a is None or b is None:
        return 0.0
    return jaccard_similarity(a, b)


def single_label_consensus(samples: Sequence[tuple[str, ...] | None]) -> Consensus:
    """Modal label and its share among the N samples."""
    if not samples:
        raise ValueError("no samples")
    counts: dict[tuple[str, ...], int] = {}
    first: dict[tuple[str, ...], int] = {}
    for i, s in enumerate(samples):
        if s is not None:
            counts[s] = counts.get(s, 0) + 1
            first.setdefault(s, i)
    if not counts:
        return Consensus(None, 0, 0.0)
    best = max(counts, key=lambda s: (counts[s], -first[s]))
    return Consensus(best, first[best], counts[best] / len(samples))


def value_set_consensus(samples: Sequence[tuple[str, ...] | None]) -> Consensus:
    """Medoid value set and the mean pairwise Jaccard similarity of the N samples."""
    n = len(samples)
    if n == 0:
        raise ValueError("no samples")
    sets = [None if s is None else frozenset(s) for s in samples]
    if all(s is None for s in sets):
        return Consensus(None, 0, 0.0)
    if n == 1:
        return Consensus(samples[0], 0, 1.0)
    sim = {(i, j): jaccard(sets[i], sets[j]) for i, j in combinations(range(n), 2)}
    confidence = sum(sim.values()) / len(sim)

    def mean_to_others(i: int) -> float:
        return sum(sim[(min(i, j), max(i, j))] for j in range(n) if j != i) / (n - 1)

    candidates = [i for i in range(n) if sets[i] is not None]
    best = max(candidates, key=lambda i: (mean_to_others(i), -i))
    return Consensus(samples[best], best, confidence)
