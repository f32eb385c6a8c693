"""The value taxonomy: hierarchical clustering of value labels (pure: arrays in, frozen dataclasses out).

Method (Huang et al., 2025, "Values in the Wild", Section 2.3 and Appendix A.6, after Tamkin et al., 2024, Clio):
given ``n_base`` distinct values and ``n_top`` desired top-level clusters over ``L`` levels (level 0 = the values),
the target size of level l is

    n_l = n_base * r^l,   r = (n_top / n_base)^(1 / (L - 1)),   l = 0 .. L-1

(rounded; the top level is exactly ``n_top``). Each level is built from the one below in four phases:

1. the lower-level clusters are embedded and grouped with k-means into *neighbourhoods*;
2. every neighbourhood proposes candidate parents (k-means centroids of its members) in proportion to its size
   (largest-remainder apportionment with at least one each, so the candidates add up to ``n_l``); candidates are
   then *de-duplicated* across neighbourhoods (near-identical centroids, identical names, and merging the
   closest pairs while there are more than ``n_l``);
3. each lower-level cluster is assigned to its best parent among the candidates of *all* neighbourhoods (highest
   cosine similarity to the candidate's centroid), which is how boundary cases between neighbourhoods are settled;
   ties are broken in a seeded random order so no candidate wins by position; empty parents are dropped;
4. names are regenerated from the final members.

Differences from the paper, on purpose: clusters above level 0 are represented by the normalised mean of their
values' embeddings (not by an embedding of an LLM-written description), so a build without an LLM is
deterministic for a seed; candidate parents are k-means centroids, de-duplication is geometric (plus identical
names), and assignment is by cosine similarity rather than by a language model choosing among names. Naming goes
through a :class:`Namer`: an LLM when one is wired, otherwise :class:`CentralMemberNamer`, which names a cluster
after its most central member (closest to the centroid) and flags the name as a fallback.

With the defaults (L = 4, n_top = 5) the formula gives 3,307 -> 380 -> 44 -> 5 (r = 0.1148); the published tree
has 3,307 -> 266 -> 26 -> 5, i.e. 70% and 59% of the formula's targets. The paper does not say why; the likely cause
is its LLM de-duplication of candidate names, which may merge more than near-duplicates. Pass
``level_sizes=(266, 26, 5)`` to reproduce the published shape.

Value normalisation, value files, the published tree format and mapping are in :mod:`taxonomy.values`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from taxonomy.values import TaxonomyError, normalise_rows, normalise_value

FloatArray = NDArray[np.floating]


# --------------------------------------------------------------------------------------------------- level sizes


def level_sizes(n_base: int, n_top: int = 5, levels: int = 4) -> tuple[int, ...]:
    """Target cluster counts per level, level 0 (the values) first.

    n_l = round(n_base * r^l) with r = (n_top / n_base)^(1/(L-1)) (Appendix A.6); the last level is exactly
    ``n_top``; each level is kept at least ``n_top`` and at most the level below.
    """
    if levels < 2:
        raise TaxonomyError(f"levels must be at least 2 (got {levels})")
    if n_top < 1:
        raise TaxonomyError(f"n_top must be at least 1 (got {n_top})")
    if n_base < n_top:
        raise TaxonomyError(f"{n_base} values cannot form {n_top} top-level clusters")
    ratio = (n_top / n_base) ** (1.0 / (levels - 1))
    sizes = [n_base]
    for lvl in range(1, levels - 1):
        sizes.append(min(sizes[-1], max(n_top, round(n_base * ratio**lvl))))
    sizes.append(n_top)
    return tuple(sizes)


# --------------------------------------------------------------------------------------------------- naming


class Namer(Protocol):
    """Names a cluster from its members, given most central first (closest to the cluster's centroid).

    A namer may also have ``describe_cluster(members) -> str``; it is called right after ``name_cluster`` with
    the same members, and its text becomes the cluster's description.
    """

    is_fallback: bool

    def name_cluster(self, members: list[str]) -> str: ...


class CentralMemberNamer:
    """The offline namer: a cluster is named after its most central member. Names are flagged as fallbacks."""

    is_fallback = True

    def name_cluster(self, members: list[str]) -> str:
        if not members:
            raise TaxonomyError("cannot name an empty cluster")
        return members[0]


def order_by_centrality(names: Sequence[str], vectors: FloatArray, centroid: FloatArray | None = None) -> list[str]:
    """``names`` sorted by cosine similarity of their vectors to the centroid (the normalised mean), highest first.

    Ties keep the input order, so the result is deterministic.
    """
    if len(names) != len(vectors):
        raise TaxonomyError(f"{len(names)} names but {len(vectors)} vectors")
    if len(names) == 0:
        return []
    unit = normalise_rows(np.asarray(vectors, dtype=np.float64))
    c = normalise_rows(unit.mean(axis=0, keepdims=True) if centroid is None else np.atleast_2d(centroid))[0]
    sims = unit @ c
    order = np.argsort(-sims, kind="stable")
    return [names[i] for i in order]


# --------------------------------------------------------------------------------------------------- build


@dataclass(frozen=True)
class TaxonomyParams:
    """Parameters of a build. ``level_sizes`` (levels 1..L-1) overrides the formula when given."""

    levels: int = 4
    n_top: int = 5
    seed: int = 0
    neighbourhood_size: int = 40
    dedup_threshold: float = 0.97
    level_sizes: tuple[int, ...] | None = None
    kmeans_n_init: int = 3

    def targets(self, n_base: int) -> tuple[int, ...]:
        if self.level_sizes is None:
            return level_sizes(n_base, self.n_top, self.levels)
        sizes = (n_base, *self.level_sizes)
        if any(b > a for a, b in itertools.pairwise(sizes)) or min(sizes) < 1:
            raise TaxonomyError(f"level sizes must decrease from {n_base} values and be positive: {sizes}")
        return sizes


@dataclass(frozen=True)
class Cluster:
    """One node. Level 0 clusters are the values themselves; ``parent`` indexes the next level up."""

    level: int
    index: int
    name: str
    children: tuple[int, ...]
    parent: int | None
    size: int
    name_is_fallback: bool
    description: str = ""


@dataclass(frozen=True)
class Hierarchy:
    """A built taxonomy: ``levels[0]`` are the values, ``levels[-1]`` the top categories."""

    values: tuple[str, ...]
    levels: tuple[tuple[Cluster, ...], ...]
    targets: tuple[int, ...]
    params: TaxonomyParams
    leaf_assignments: tuple[NDArray[np.int64], ...] = field(repr=False)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(level) for level in self.levels)

    def assignment(self, level: int) -> NDArray[np.int64]:
        """For each value (in ``values`` order), the index of its ancestor cluster at ``level``."""
        return self.leaf_assignments[level]

    def ancestor_names(self, level: int) -> dict[str, str]:
        """value -> name of its ancestor at ``level`` (level 0 maps each value to itself)."""
        names = [c.name for c in self.levels[level]]
        return {v: names[a] for v, a in zip(self.values, self.assignment(level), strict=True)}


def build_hierarchy(
    values: Sequence[str],
    embeddings: FloatArray,
    params: TaxonomyParams | None = None,
    namer: Namer | None = None,
    progress: Callable[[str], None] | None = None,
) -> Hierarchy:
    """Build the taxonomy of ``values`` (distinct strings) from their embeddings (one row per value)."""
    params = params or TaxonomyParams()
    namer = namer or CentralMemberNamer()
    values = tuple(values)
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(values):
        raise TaxonomyError(f"embeddings must be (n_values, dim); got {x.shape} for {len(values)} values")
    if len(set(values)) != len(values):
        dupes = sorted({v for v in values if values.count(v) > 1})[:5]
        raise TaxonomyError(f"values must be distinct; repeated: {dupes}")
    if not np.isfinite(x).all():
        raise TaxonomyError("embeddings contain NaN or infinite entries")
    leaf_vectors = normalise_rows(x)
    targets = params.targets(len(values))
    rng = np.random.default_rng(params.seed)
    # A namer may also describe the cluster it has just named (an LLM writes both in one reply).
    describe: Callable[[list[str]], str] | None = getattr(namer, "describe_cluster", None)

    levels: list[list[Cluster]] = [
        [Cluster(0, i, v, (), None, 1, False) for i, v in enumerate(values)],
    ]
    leaf_assign: list[NDArray[np.int64]] = [np.arange(len(values), dtype=np.int64)]
    child_vectors = leaf_vectors
    for lvl in range(1, len(targets)):
        if progress:
            progress(f"level {lvl}: {len(child_vectors)} -> {targets[lvl]}")
        child_names = [c.name for c in levels[-1]]
        parent_of_child = _level_step(child_vectors, child_names, targets[lvl], params, rng, namer)
        # Parents are renumbered densely in order of first appearance among children, so empty ones vanish.
        _, dense = np.unique(parent_of_child, return_inverse=True)
        dense = dense.astype(np.int64)
        n_parents = int(dense.max()) + 1
        leaf_parent = dense[leaf_assign[-1]]
        leaf_assign.append(leaf_parent)
        parent_vectors = normalise_rows(
            np.vstack([leaf_vectors[leaf_parent == p].mean(axis=0) for p in range(n_parents)])
        )
        # Phase 4: names regenerated from the final members, most central first.
        lower = levels[-1]
        new_lower: list[Cluster] = []
        parents: list[Cluster] = []
        for p in range(n_parents):
            kids = np.flatnonzero(dense == p)
            member_names = order_by_centrality([child_names[k] for k in kids], child_vectors[kids], parent_vectors[p])
            name = namer.name_cluster(member_names)
            parents.append(
                Cluster(
                    level=lvl,
                    index=p,
                    name=name,
                    children=tuple(int(k) for k in kids),
                    parent=None,
                    size=int((leaf_parent == p).sum()),
                    name_is_fallback=namer.is_fallback,
                    description=describe(member_names) if describe else "",
                )
            )
        for c in lower:
            new_lower.append(replace(c, parent=int(dense[c.index])))
        levels[-1] = new_lower
        levels.append(parents)
        child_vectors = parent_vectors
    return Hierarchy(
        values=values,
        levels=tuple(tuple(level) for level in levels),
        targets=targets,
        params=params,
        leaf_assignments=tuple(leaf_assign),
    )


def _level_step(
    x: FloatArray,
    names: list[str],
    target: int,
    params: TaxonomyParams,
    rng: np.random.Generator,
    namer: Namer,
) -> NDArray[np.int64]:
    """Phases 1-3 for one level: returns, for each child row of ``x``, the index of its candidate parent."""
    m = len(x)
    target = max(1, min(target, m))
    # Phase 1: neighbourhoods, never more of them than parents wanted.
    n_nb = max(1, min(target, round(m / params.neighbourhood_size)))
    nb_labels = _kmeans(x, n_nb, params, rng) if n_nb > 1 else np.zeros(m, dtype=np.int64)
    nb_ids = np.unique(nb_labels)
    nb_sizes = np.array([(nb_labels == j).sum() for j in nb_ids])
    quotas = _apportion(target, nb_sizes)

    # Phase 2: candidates per neighbourhood, from its own members. Boundary cases are settled in phase 3, where every
    # child is compared with the candidates of all neighbourhoods, not only its own.
    centroids: list[FloatArray] = []
    cand_names: list[str] = []
    cand_weights: list[int] = []
    for j, quota in zip(nb_ids, quotas, strict=True):
        pool = np.flatnonzero(nb_labels == j)
        k = min(int(quota), len(pool))
        labels = _kmeans(x[pool], k, params, rng) if k > 1 else np.zeros(len(pool), dtype=np.int64)
        for c in range(k):
            members = pool[labels == c]
            if len(members) == 0:
                continue
            centroid = normalise_rows(x[members].mean(axis=0, keepdims=True))[0]
            centroids.append(centroid)
            cand_names.append(
                namer.name_cluster(order_by_centrality([names[i] for i in members], x[members], centroid))
            )
            cand_weights.append(len(members))

    # Phase 2b: de-duplication across neighbourhoods.
    cand = _deduplicate(np.vstack(centroids), cand_names, np.array(cand_weights, dtype=np.float64), target, params)

    # Phase 3: assignment; the candidate order is shuffled (seeded) so ties do not favour the first listed.
    perm = rng.permutation(len(cand))
    sims = x @ cand[perm].T
    return perm[np.argmax(sims, axis=1)].astype(np.int64)


def _deduplicate(
    centroids: FloatArray, names: list[str], weights: FloatArray, target: int, params: TaxonomyParams
) -> FloatArray:
    """Merge candidates that are near-identical (cosine >= threshold) or share a name, then the closest pairs
    while more than ``target`` remain. Merged centroids are weight-averaged."""
    cents = list(centroids)
    wts = list(weights)
    keys = [normalise_value(n) for n in names]
    alive = list(range(len(cents)))

    def merge(a: int, b: int) -> None:
        total = wts[a] + wts[b]
        cents[a] = normalise_rows(((cents[a] * wts[a] + cents[b] * wts[b]) / total)[None, :])[0]
        wts[a] = total
        alive.remove(b)

    by_key: dict[str, int] = {}
    for i in list(alive):
        if keys[i] in by_key:
            merge(by_key[keys[i]], i)
        else:
            by_key[keys[i]] = i
    while len(alive) > 1:
        mat = np.vstack([cents[i] for i in alive])
        sims = mat @ mat.T
        np.fill_diagonal(sims, -np.inf)
        a, b = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[a, b] < params.dedup_threshold and len(alive) <= target:
            break
        merge(alive[min(a, b)], alive[max(a, b)])
    return np.vstack([cents[i] for i in alive])


def _apportion(total: int, sizes: NDArray[np.integer]) -> NDArray[np.int64]:
    """Split ``total`` seats in proportion to ``sizes`` (largest remainder, Hamilton's method), at least one each."""
    n = len(sizes)
    if total < n:
        raise TaxonomyError(f"cannot give {n} neighbourhoods a candidate each out of {total}")
    quotas = total * sizes / sizes.sum()
    seats = np.maximum(1, np.floor(quotas)).astype(np.int64)
    while seats.sum() < total:
        seats[int(np.argmax(quotas - seats))] += 1
    while seats.sum() > total:
        over = np.where(seats > 1, seats - quotas, -np.inf)
        seats[int(np.argmax(over))] -= 1
    return seats


def _kmeans(x: FloatArray, k: int, params: TaxonomyParams, rng: np.random.Generator) -> NDArray[np.int64]:
    seed = int(rng.integers(0, 2**31 - 1))
    model = KMeans(n_clusters=k, n_init=params.kmeans_n_init, random_state=seed)
    return model.fit_predict(x).astype(np.int64)


# --------------------------------------------------------------------------------------------------- stability


@dataclass(frozen=True)
class Stability:
    """Adjusted Rand index between the value -> cluster assignments of two builds, per level (1..L-1)."""

    seeds: tuple[int, int]
    ari_by_level: tuple[float, ...]


def stability(
    values: Sequence[str], embeddings: FloatArray, params: TaxonomyParams | None = None, seeds: tuple[int, int] = (0, 1)
) -> Stability:
    """Build twice with different seeds and compare the assignments with the adjusted Rand index
    (Hubert & Arabie, 1985; ``sklearn.metrics.adjusted_rand_score``): 1 = identical partitions, ~0 = chance."""
    base = params or TaxonomyParams()
    builds = [build_hierarchy(values, embeddings, _with_seed(base, s)) for s in seeds]
    return Stability(seeds=seeds, ari_by_level=compare_hierarchies(builds[0], builds[1]))


def compare_hierarchies(a: Hierarchy, b: Hierarchy) -> tuple[float, ...]:
    """ARI between two builds of the same values, per level above 0."""
    if a.values != b.values:
        raise TaxonomyError("the two hierarchies are over different values")
    depth = min(len(a.levels), len(b.levels))
    return tuple(float(adjusted_rand_score(a.assignment(lvl), b.assignment(lvl))) for lvl in range(1, depth))


def _with_seed(params: TaxonomyParams, seed: int) -> TaxonomyParams:
    return replace(params, seed=seed)
