"""Two taxonomy builds (or imports) of one name at the same time: both are stored, numbered one after the other, on
SQLite too; two deliveries of one queued build store it once.

Each build reads the latest version of the name, then writes the next one. On SQLite, two such transactions that have
both read would each wait for the other's read lock to write, and one would fail at once with "database is locked";
the settings begin every transaction with the write lock (IMMEDIATE), so the second waits for the first instead. The
test holds each build just after its read until the other has read too (or a second has passed), so the two
transactions overlap for sure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from taxonomy.clustering import TaxonomyParams
from taxonomy.models import Taxonomy
from taxonomy.services import taxonomy_build, taxonomy_import_tree
from tests.concurrency import writers_at_once
from tests.taxonomy.test_taxonomy_services import TREE, HashEmbedder

WORDS = ["honesty", "safety", "care", "art", "logic", "speed"]
VALUES = [f"{a} {b}" for a in WORDS for b in WORDS if a != b]


def _build(seed: int, build_key: str | None = None) -> Callable[[Path], Taxonomy]:
    return lambda _: taxonomy_build(
        values=VALUES,
        name="together",
        params=TaxonomyParams(levels=2, n_top=3, seed=seed, neighbourhood_size=5),
        embedder=HashEmbedder(),
        build_key=build_key,
    )


def _import(tree: Path) -> Taxonomy:
    return taxonomy_import_tree(path=tree, name="together")


def _at_once(writers: list[Callable[[Path], Taxonomy]], tree: Path) -> tuple[list[Taxonomy], list[BaseException]]:
    return writers_at_once([functools.partial(writer, tree) for writer in writers], table="analysis_taxonomy")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    path = tmp_path / "values_tree.csv"
    path.write_text(TREE, encoding="utf-8")
    return path


@pytest.mark.django_db(transaction=True)
def test_two_builds_of_one_name_at_once_are_both_stored(tree: Path) -> None:
    stored, errors = _at_once([_build(1), _build(2)], tree)
    assert errors == []
    assert sorted(t.version for t in stored) == [1, 2]
    assert sorted(Taxonomy.objects.filter(name="together").values_list("version", flat=True)) == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_name_at_once_are_both_stored(tree: Path) -> None:
    stored, errors = _at_once([_import, _import], tree)
    assert errors == []
    assert sorted(t.version for t in stored) == [1, 2]
    assert sorted(Taxonomy.objects.filter(name="together").values_list("version", flat=True)) == [1, 2]
    assert {t.nodes.count() for t in stored} == {10}


@pytest.mark.django_db(transaction=True)
def test_an_import_and_a_build_of_one_name_at_once_are_both_stored(tree: Path) -> None:
    stored, errors = _at_once([_import, _build(1)], tree)
    assert errors == []
    assert sorted(Taxonomy.objects.filter(name="together").values_list("version", flat=True)) == [1, 2]
    assert sorted(t.source for t in stored) == ["built", "imported"]


@pytest.mark.django_db(transaction=True)
def test_one_queued_build_delivered_twice_at_once_is_stored_once(tree: Path) -> None:
    stored, errors = _at_once([_build(1, build_key="queued-1"), _build(1, build_key="queued-1")], tree)
    assert errors == []
    assert len(stored) == 2
    assert stored[0].pk == stored[1].pk
    taxonomy = Taxonomy.objects.get(name="together")
    assert (taxonomy.version, taxonomy.build_key) == (1, "queued-1")
    # The node writes of the second delivery were not made: one tree, not two over one taxonomy.
    assert taxonomy.nodes.filter(level=0).count() == len(VALUES)
