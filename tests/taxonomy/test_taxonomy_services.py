"""Taxonomy services and selectors against the database: import, mapping, builds, review edits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from taxonomy.clustering import TaxonomyParams
from taxonomy.models import EditAction, MappingMethod, Taxonomy, TaxonomyEdit, TaxonomyNode, ValueMapping
from taxonomy.selectors import extracted_value_counts, taxonomy_ancestor_names, taxonomy_level_counts, taxonomy_unmapped
from taxonomy.services import (
    taxonomy_build,
    taxonomy_import_tree,
    taxonomy_map_values,
    taxonomy_node_merge,
    taxonomy_node_move,
    taxonomy_node_rename,
)
from taxonomy.values import TaxonomyError, distinct_values, values_read_file

pytestmark = pytest.mark.django_db

TREE = """cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences
honesty,,honesty,0,l1:truth,1.5
candour,,candour,0,l1:truth,0.5
safety,,safety,0,l1:safe,2.0
harm prevention,,harm prevention,0,l1:safe,1.0
creativity,,creativity,0,l1:art,1.0
l1:truth,"Being truthful,
even when it is hard.",Truthfulness,1,l2:epistemic,2.0
l1:safe,Keeping people safe.,Safety,1,l2:protective,3.0
l1:art,Making things.,Art,1,l2:epistemic,1.0
l2:epistemic,Knowing and making.,Epistemic,2,,3.0
l2:protective,Protecting.,Protective,2,,3.0
"""


class HashEmbedder:
    """A deterministic stand-in for the sentence model in fast tests: each word gets a fixed random direction and a
    text is the normalised sum of its words, so texts sharing words are similar."""

    model_id = "hash-words"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 32))
        for i, t in enumerate(texts):
            for word in t.lower().split():
                seed = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                out[i] += np.random.default_rng(seed).normal(size=32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def tree_file(tmp_path: Path) -> Path:
    path = tmp_path / "values_tree.csv"
    path.write_text(TREE, encoding="utf-8")
    return path


@pytest.fixture
def small(tree_file: Path) -> Taxonomy:
    return taxonomy_import_tree(path=tree_file, name="small")


def node(taxonomy: Taxonomy, key: str) -> TaxonomyNode:
    return TaxonomyNode.objects.get(taxonomy=taxonomy, key=key)


# ------------------------------------------------------------------------------------------------ the published tree


@pytest.mark.slow
def test_published_values_tree_imports_as_3307_266_26_5(shared_data: Path) -> None:
    taxonomy = taxonomy_import_tree(path=shared_data / "values-in-the-wild" / "values_tree.csv", name="vitw")
    assert taxonomy_level_counts(taxonomy=taxonomy) == {0: 3307, 1: 266, 2: 26, 3: 5}
    top = TaxonomyNode.objects.filter(taxonomy=taxonomy, level=3)
    assert sorted(top.values_list("name", flat=True)) == [
        "Epistemic values",
        "Personal values",
        "Practical values",
        "Protective values",
        "Social values",
    ]
    # Every value sits under exactly one top category.
    assert sum(top.values_list("size", flat=True)) == 3307
    assert not TaxonomyNode.objects.filter(taxonomy=taxonomy, level__lt=3, parent__isnull=True).exists()
    ancestors = taxonomy_ancestor_names(taxonomy=taxonomy, level=3)
    assert len(ancestors) == 3307
    assert set(ancestors.values()) == set(top.values_list("name", flat=True))
    assert not TaxonomyNode.objects.filter(taxonomy=taxonomy, level__gt=0, description="").exists()

    # Mapping the tree's own values, and the published frequency list, onto it is exact.
    own = list(TaxonomyNode.objects.filter(taxonomy=taxonomy, level=0).values_list("name", flat=True))
    result = taxonomy_map_values(taxonomy=taxonomy, values=own, use_embeddings=False)
    assert result.counts() == {"exact": 3307, "nearest": 0, "unmapped": 0}
    frequencies = values_read_file(shared_data / "values-in-the-wild" / "values_frequencies.csv")
    result = taxonomy_map_values(taxonomy=taxonomy, values=frequencies, embedder=HashEmbedder())
    assert result.counts() == {"exact": 3307, "nearest": 0, "unmapped": 0}
    assert all(m.target == m.value for m in result.matches)
    assert taxonomy_unmapped(taxonomy=taxonomy) == []
    assert ValueMapping.objects.filter(taxonomy=taxonomy, method=MappingMethod.EXACT).count() == 3307


# ------------------------------------------------------------------------------------------------ import


def test_import_builds_the_tree_with_sizes_and_descriptions(small: Taxonomy) -> None:
    assert taxonomy_level_counts(taxonomy=small) == {0: 5, 1: 3, 2: 2}
    assert (small.version, small.source, small.level_count) == (1, "imported", 3)
    truth = node(small, "l1:truth")
    assert truth.description == "Being truthful,\neven when it is hard."
    assert truth.size == 2
    assert node(small, "l2:epistemic").size == 3
    assert node(small, "honesty").parent == truth
    assert node(small, "honesty").pct_total_occurrences == 1.5


def test_reimport_is_a_new_version(tree_file: Path, small: Taxonomy) -> None:
    again = taxonomy_import_tree(path=tree_file, name="small")
    assert again.version == 2
    assert Taxonomy.objects.filter(name="small").count() == 2


def test_a_bad_tree_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(TREE.replace("creativity,,creativity,0,l1:art", "creativity,,creativity,0,l1:gone"))
    with pytest.raises(TaxonomyError, match=r"bad.csv:6: parent 'l1:gone'"):
        taxonomy_import_tree(path=bad, name="bad")
    assert not Taxonomy.objects.exists()
    assert not TaxonomyNode.objects.exists()


def test_ancestor_names_at_each_level_include_mapped_values(small: Taxonomy) -> None:
    assert taxonomy_ancestor_names(taxonomy=small, level=1)["candour"] == "Truthfulness"
    assert taxonomy_ancestor_names(taxonomy=small, level=2)["harm prevention"] == "Protective"
    assert taxonomy_ancestor_names(taxonomy=small, level=0)["safety"] == "safety"
    taxonomy_map_values(taxonomy=small, values=["Honesty.", "gardening tips"], embedder=HashEmbedder(), threshold=0.99)
    level2 = taxonomy_ancestor_names(taxonomy=small, level=2)
    assert level2["Honesty."] == "Epistemic"
    assert "gardening tips" not in level2
    assert taxonomy_unmapped(taxonomy=small) == ["gardening tips"]
    with pytest.raises(TaxonomyError, match=r"levels 0\.\.2"):
        taxonomy_ancestor_names(taxonomy=small, level=3)


def test_mapping_uses_the_nearest_neighbour_above_the_threshold(small: Taxonomy) -> None:
    result = taxonomy_map_values(
        taxonomy=small, values=["harm prevention measures", "creativity"], embedder=HashEmbedder(), threshold=0.5
    )
    by_value = {m.value: m for m in result.matches}
    assert by_value["creativity"].method == "exact"
    assert by_value["harm prevention measures"].method == "nearest"
    assert by_value["harm prevention measures"].target == "harm prevention"
    stored = ValueMapping.objects.get(taxonomy=small, value="harm prevention measures")
    assert stored.node == node(small, "harm prevention")
    assert stored.similarity == pytest.approx(by_value["harm prevention measures"].similarity)
    # Remapping replaces, it does not duplicate.
    taxonomy_map_values(taxonomy=small, values=["harm prevention measures"], embedder=HashEmbedder(), threshold=0.99)
    assert ValueMapping.objects.get(taxonomy=small, value="harm prevention measures").method == "unmapped"


# ------------------------------------------------------------------------------------------------ review edits


def test_rename_is_logged(small: Taxonomy, django_user_model) -> None:  # type: ignore[no-untyped-def]
    lead = django_user_model.objects.create_user("lead")
    taxonomy_node_rename(node=node(small, "l1:art"), name="  Creative   expression ", user=lead)
    renamed = node(small, "l1:art")
    assert renamed.name == "Creative expression"
    edit = TaxonomyEdit.objects.get(taxonomy=small)
    assert (edit.action, edit.user, edit.before["name"], edit.after["name"]) == (
        EditAction.RENAME,
        lead,
        "Art",
        "Creative expression",
    )
    with pytest.raises(TaxonomyError, match="empty"):
        taxonomy_node_rename(node=renamed, name="   ")
    with pytest.raises(TaxonomyError, match="level 0"):
        taxonomy_node_rename(node=node(small, "honesty"), name="truth")


def test_merge_moves_children_updates_sizes_and_is_logged(small: Taxonomy) -> None:
    taxonomy_node_merge(source=node(small, "l1:art"), target=node(small, "l1:truth"))
    assert not TaxonomyNode.objects.filter(taxonomy=small, key="l1:art").exists()
    truth = node(small, "l1:truth")
    assert truth.size == 3
    assert node(small, "creativity").parent == truth
    edit = TaxonomyEdit.objects.get(taxonomy=small, action=EditAction.MERGE)
    assert edit.before["source"]["name"] == "Art"
    assert edit.after["moved_children"] == [node(small, "creativity").pk]
    with pytest.raises(TaxonomyError, match="levels must match"):
        taxonomy_node_merge(source=truth, target=node(small, "l2:protective"))
    with pytest.raises(TaxonomyError, match="itself"):
        taxonomy_node_merge(source=truth, target=truth)


def test_move_changes_parent_and_sizes_and_refuses_to_empty_a_parent(small: Taxonomy) -> None:
    taxonomy_node_move(node=node(small, "candour"), new_parent=node(small, "l1:safe"))
    assert node(small, "l1:safe").size == 3
    assert node(small, "l1:truth").size == 1
    assert node(small, "l2:protective").size == 3
    assert node(small, "l2:epistemic").size == 2
    edit = TaxonomyEdit.objects.get(taxonomy=small, action=EditAction.MOVE)
    assert edit.before["parent_id"] == node(small, "l1:truth").pk
    assert edit.after["parent_id"] == node(small, "l1:safe").pk
    with pytest.raises(TaxonomyError, match="leave 'Truthfulness' empty"):
        taxonomy_node_move(node=node(small, "honesty"), new_parent=node(small, "l1:safe"))
    with pytest.raises(TaxonomyError, match="level 1"):
        taxonomy_node_move(node=node(small, "honesty"), new_parent=node(small, "l2:epistemic"))
    assert taxonomy_ancestor_names(taxonomy=small, level=2)["candour"] == "Protective"


# ------------------------------------------------------------------------------------------------ builds


def test_build_persists_every_level_with_fallback_names_and_stability() -> None:
    words = ["honesty", "safety", "care", "art", "logic", "speed", "trust", "order"]
    values = [f"{a} {b}" for a in words for b in words if a != b]
    embedder = HashEmbedder()
    taxonomy = taxonomy_build(
        values=values,
        name="built",
        params=TaxonomyParams(levels=3, n_top=4, seed=0, neighbourhood_size=10),
        embedder=embedder,
        stability_seed=1,
        build_key="k1",
    )
    counts = taxonomy_level_counts(taxonomy=taxonomy)
    assert counts[0] == len(values)
    assert counts[2] == 4
    assert taxonomy.names_are_fallback
    assert taxonomy.embedding_model == "hash-words"
    assert taxonomy.stability["seeds"] == [0, 1]
    assert len(taxonomy.stability["ari_by_level"]) == 2
    assert taxonomy.params["targets"] == [56, 15, 4]
    leaves = TaxonomyNode.objects.filter(taxonomy=taxonomy, level=0)
    assert not leaves.filter(parent__isnull=True).exists()
    for cluster in TaxonomyNode.objects.filter(taxonomy=taxonomy, level__gt=0):
        assert cluster.name_is_fallback
        assert cluster.children.exists()
        # A fallback name is one of the values beneath it.
        assert cluster.name in set(taxonomy_ancestor_names(taxonomy=taxonomy, level=0))
    # The same key again is a no-op that returns the first build.
    again = taxonomy_build(values=values, name="built", embedder=embedder, build_key="k1")
    assert again.pk == taxonomy.pk
    assert Taxonomy.objects.count() == 1


def test_distinct_values_and_values_files(tmp_path: Path) -> None:
    assert distinct_values(["Honesty", " honesty.", "", "care"]) == ["Honesty", "care"]
    with pytest.raises(TaxonomyError, match="501 characters"):
        distinct_values(["x" * 501])
    lines = tmp_path / "values.txt"
    lines.write_text("honesty\n\ncare\n")
    assert values_read_file(lines) == ["honesty", "care"]
    table = tmp_path / "values.csv"
    table.write_text("value,pct_convos\nhonesty,1.0\n")
    assert values_read_file(table) == ["honesty"]
    with pytest.raises(TaxonomyError, match=r"values.csv:1: no 'label' column"):
        values_read_file(table, column="label")


def test_extracted_value_counts_counts_conversations_by_normalised_label() -> None:
    from corpus.models import Conversation, Dataset
    from extraction.models import Extraction, PromptVersion

    ds = Dataset.objects.create(name="d")
    pv = PromptVersion.objects.create(prompt_set="paper-v1", feature="ai_values", content_hash="h", template="t")
    rows = [
        (["honesty", "care"], "ok"),
        (["Honesty.", "honesty"], "ok"),
        (["honesty"], "ok"),
        (["care"], "parse_error"),
    ]
    for i, (labels, status) in enumerate(rows):
        conv = Conversation.objects.create(
            dataset=ds, external_id=str(i), source="openai", messages=[], content_hash=str(i), turn_count=0
        )
        Extraction.objects.create(
            conversation=conv, feature="ai_values", prompt_version=pv, model="m", status=status, labels=labels
        )
    counts = extracted_value_counts(feature="ai_values")
    # Conversations, not mentions; the most frequent spelling names the value; failed parses do not count.
    assert counts == {"honesty": 3, "care": 1}
