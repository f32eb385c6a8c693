"""The pure taxonomy module: level sizes, clustering invariants, naming, reading trees, mapping values."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from taxonomy.clustering import (
    CentralMemberNamer,
    TaxonomyParams,
    build_hierarchy,
    level_sizes,
    order_by_centrality,
    stability,
)
from taxonomy.values import TaxonomyError, map_values, normalise_value, read_values_tree


def blobs(n_groups: int, per_group: int, dim: int = 16, spread: float = 0.05, seed: int = 0) -> np.ndarray:
    """Well-separated groups on the unit sphere: ``n_groups`` random directions plus small noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per_group, axis=0) + spread * rng.normal(size=(n_groups * per_group, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def names(n: int) -> list[str]:
    return [f"value {i:04d}" for i in range(n)]


# ------------------------------------------------------------------------------------------------ level sizes


def test_level_sizes_follow_the_geometric_ratio() -> None:
    # r = (5 / 3307)^(1/3) = 0.114774...; 3307 r = 379.56, 3307 r^2 = 43.56. The published tree has 266 and 26
    # instead (see the module docstring of taxonomy/clustering.py).
    assert level_sizes(3307, 5, 4) == (3307, 380, 44, 5)
    r = (5 / 3307) ** (1 / 3)
    assert math.isclose(3307 * r, 379.56, abs_tol=0.01)
    assert level_sizes(1000, 10, 3) == (1000, 100, 10)
    assert level_sizes(8, 2, 2) == (8, 2)


@pytest.mark.parametrize(("n_base", "n_top", "levels"), [(3, 5, 4), (100, 0, 4), (100, 5, 1)])
def test_level_sizes_reject_impossible_shapes(n_base: int, n_top: int, levels: int) -> None:
    with pytest.raises(TaxonomyError):
        level_sizes(n_base, n_top, levels)


def test_explicit_level_sizes_must_decrease() -> None:
    with pytest.raises(TaxonomyError, match="decrease"):
        TaxonomyParams(level_sizes=(10, 20, 5)).targets(100)
    assert TaxonomyParams(level_sizes=(266, 26, 5)).targets(3307) == (3307, 266, 26, 5)


# ------------------------------------------------------------------------------------------------ building


def test_level_sizes_match_targets_on_separated_groups() -> None:
    # 125 groups of 8: the natural structure has exactly as many groups as level 1 wants.
    x = blobs(125, 8)
    params = TaxonomyParams(levels=4, n_top=5, level_sizes=(125, 25, 5), neighbourhood_size=20)
    h = build_hierarchy(names(len(x)), x, params)
    assert h.sizes == (1000, 125, 25, 5)
    # Every level-1 cluster is exactly one planted group.
    truth = np.repeat(np.arange(125), 8)
    assert adjusted_rand_score(truth, h.assignment(1)) == pytest.approx(1.0)


def test_every_value_is_assigned_exactly_once_and_parents_are_non_empty() -> None:
    x = blobs(40, 10, spread=0.3, seed=3)
    vals = names(len(x))
    h = build_hierarchy(vals, x, TaxonomyParams(levels=4, n_top=4, neighbourhood_size=15))
    assert len(h.levels) == 4
    assert h.sizes[0] == len(vals)
    for lvl in range(1, len(h.levels)):
        lower, upper = h.levels[lvl - 1], h.levels[lvl]
        children = [k for c in upper for k in c.children]
        # Each lower cluster has exactly one parent, and each parent has at least one child.
        assert sorted(children) == list(range(len(lower)))
        assert all(c.children for c in upper)
        assert all(lower[k].parent == c.index for c in upper for k in c.children)
        assert sum(c.size for c in upper) == len(vals)
        assert len(upper) <= h.targets[lvl]
        assert h.assignment(lvl).shape == (len(vals),)
    assert all(c.parent is None for c in h.levels[-1])
    assert h.sizes[-1] == 4


def test_the_same_seed_gives_the_same_tree_and_another_seed_is_compared_by_ari() -> None:
    x = blobs(30, 10, spread=0.35, seed=5)
    vals = names(len(x))
    params = TaxonomyParams(levels=3, n_top=5, neighbourhood_size=10, seed=7)
    a = build_hierarchy(vals, x, params)
    b = build_hierarchy(vals, x, params)
    for lvl in range(len(a.levels)):
        assert np.array_equal(a.assignment(lvl), b.assignment(lvl))
        assert [c.name for c in a.levels[lvl]] == [c.name for c in b.levels[lvl]]
    result = stability(vals, x, params, seeds=(1, 2))
    assert result.seeds == (1, 2)
    assert len(result.ari_by_level) == 2
    assert all(-1.0 <= v <= 1.0 for v in result.ari_by_level)


def test_stability_is_one_on_unambiguous_structure() -> None:
    x = blobs(20, 6, spread=0.02, seed=11)
    params = TaxonomyParams(levels=3, n_top=4, level_sizes=(20, 4), neighbourhood_size=10)
    assert stability(names(len(x)), x, params, seeds=(0, 1)).ari_by_level[0] == pytest.approx(1.0)


def test_build_rejects_bad_input() -> None:
    x = blobs(5, 4)
    with pytest.raises(TaxonomyError, match="distinct"):
        build_hierarchy(["a"] * len(x), x, TaxonomyParams(levels=2, n_top=2))
    with pytest.raises(TaxonomyError, match="embeddings must be"):
        build_hierarchy(names(3), x, TaxonomyParams(levels=2, n_top=2))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(TaxonomyError, match="NaN"):
        build_hierarchy(names(len(x)), bad, TaxonomyParams(levels=2, n_top=2))


def test_ancestor_names_map_each_value_to_its_cluster_name() -> None:
    x = blobs(6, 5, spread=0.02)
    vals = names(len(x))
    h = build_hierarchy(vals, x, TaxonomyParams(levels=2, n_top=6, neighbourhood_size=10))
    mapping = h.ancestor_names(1)
    assert set(mapping) == set(vals)
    for c in h.levels[1]:
        assert {mapping[vals[k]] for k in c.children} == {c.name}
    assert h.ancestor_names(0) == {v: v for v in vals}


# ------------------------------------------------------------------------------------------------ naming


def test_fallback_name_is_the_member_closest_to_the_centroid() -> None:
    # Centroid direction is (1, 0); "b" points almost exactly there, "a" and "c" lean away.
    vectors = np.array([[1.0, 0.6], [1.0, 0.01], [1.0, -0.5]])
    ordered = order_by_centrality(["a", "b", "c"], vectors)
    assert ordered[0] == "b"
    assert CentralMemberNamer().name_cluster(ordered) == "b"


def test_built_cluster_names_are_central_members_and_flagged_fallback() -> None:
    x = blobs(4, 6, spread=0.1, seed=2)
    vals = names(len(x))
    h = build_hierarchy(vals, x, TaxonomyParams(levels=2, n_top=4, neighbourhood_size=50))
    for c in h.levels[1]:
        members = np.array(c.children)
        centroid = x[members].mean(axis=0)
        centroid /= np.linalg.norm(centroid)
        best = members[np.argmax(x[members] @ centroid)]
        assert c.name == vals[best]
        assert c.name_is_fallback


def test_a_custom_namer_is_used_and_not_flagged() -> None:
    class Joiner:
        is_fallback = False

        def name_cluster(self, members: list[str]) -> str:
            return "+".join(sorted(members)[:2])

    x = blobs(3, 4, spread=0.01)
    h = build_hierarchy(names(len(x)), x, TaxonomyParams(levels=2, n_top=3, neighbourhood_size=50), namer=Joiner())
    assert all("+" in c.name and not c.name_is_fallback for c in h.levels[1])


# ------------------------------------------------------------------------------------------------ reading trees

TREE = """cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences
honesty,,honesty,0,l1:a,1.5
candour,,candour,0,l1:a,0.5
safety,,safety,0,l1:b,2.0
l1:a,"Being truthful,
even when it is hard.",Truthfulness,1,l2:x,2.0
l1:b,Keeping people safe.,Safety,1,l2:x,2.0
l2:x,All of it.,Everything,2,,4.0
"""


def test_read_values_tree_handles_multiline_descriptions() -> None:
    tree = read_values_tree(io.StringIO(TREE))
    assert tree.level_counts == {0: 3, 1: 2, 2: 1}
    truth = next(r for r in tree.rows if r.cluster_id == "l1:a")
    assert truth.description == "Being truthful,\neven when it is hard."
    assert truth.line == 5
    assert next(r for r in tree.rows if r.cluster_id == "l1:b").line == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cluster_id,name,level\nx,x,0\n", "missing column"),
        (TREE.replace("safety,,safety,0,l1:b", "safety,,safety,zero,l1:b"), r":4: level 'zero'"),
        (TREE.replace("safety,,safety,0,l1:b", "safety,,safety,0,l1:nope"), r":4: parent 'l1:nope'"),
        (TREE.replace("safety,,safety,0,l1:b", "safety,,safety,0,l2:x"), "expected 1"),
        (TREE.replace("candour,,candour", "Honesty ,,Honesty "), "repeats"),
        (TREE.replace("safety,,safety,0,l1:b", "honesty,,safety,0,l1:b"), "already defined at line 2"),
    ],
)
def test_read_values_tree_names_the_bad_line(text: str, message: str) -> None:
    with pytest.raises(TaxonomyError, match=message) as info:
        read_values_tree(io.StringIO(text), origin="tree.csv")
    assert str(info.value).startswith("tree.csv")


def test_read_values_tree_reports_a_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaxonomyError, match="cannot read"):
        read_values_tree(tmp_path / "absent.csv")


# ------------------------------------------------------------------------------------------------ mapping


def test_normalise_value() -> None:
    assert normalise_value("  Intellectual   Honesty. ") == "intellectual honesty"
    assert normalise_value('"user_autonomy"') == "user autonomy"
    assert normalise_value("self-reliance") == "self-reliance"


def test_map_values_exact_then_nearest_then_unmapped() -> None:
    reference = ["honesty", "safety", "creativity"]
    table = {
        "honesty": [1.0, 0.0, 0.0],
        "safety": [0.0, 1.0, 0.0],
        "creativity": [0.0, 0.0, 1.0],
        "truthfulness": [0.95, 0.05, 0.0],
        "gardening": [0.5, 0.5, 0.5],
    }

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([table[t] for t in texts])

    result = map_values(["Honesty.", "truthfulness", "gardening"], reference, embed, threshold=0.9)
    methods = [(m.value, m.target, m.method) for m in result.matches]
    assert methods == [
        ("Honesty.", "honesty", "exact"),
        ("truthfulness", "honesty", "nearest"),
        ("gardening", None, "unmapped"),
    ]
    assert result.unmapped == ("gardening",)
    assert result.counts() == {"exact": 1, "nearest": 1, "unmapped": 1}
    assert result.matches[1].similarity == pytest.approx(0.95 / math.hypot(0.95, 0.05))


def test_map_values_without_embeddings_only_matches_exactly() -> None:
    result = map_values(["safety", "kindness"], ["safety"], None)
    assert result.counts() == {"exact": 1, "nearest": 0, "unmapped": 1}
    with pytest.raises(TaxonomyError, match="threshold"):
        map_values(["x"], ["x"], None, threshold=1.5)
