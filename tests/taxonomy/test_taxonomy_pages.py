"""The taxonomy page after each manual review edit: it renders, and its history says what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from accounts.roles import Role
from taxonomy.models import Taxonomy, TaxonomyNode
from taxonomy.services import taxonomy_import_tree, taxonomy_node_merge, taxonomy_node_move, taxonomy_node_rename
from tests.pages import client_as, strict_templates
from tests.taxonomy.test_taxonomy_services import TREE

pytestmark = pytest.mark.django_db


@pytest.fixture
def small(tmp_path: Path, settings: Any) -> Taxonomy:
    strict_templates(settings)
    path = tmp_path / "values_tree.csv"
    path.write_text(TREE, encoding="utf-8")
    return taxonomy_import_tree(path=path, name="small")


def node(taxonomy: Taxonomy, key: str) -> TaxonomyNode:
    return TaxonomyNode.objects.get(taxonomy=taxonomy, key=key)


def history(taxonomy: Taxonomy) -> str:
    response = client_as(Role.LEAD).get(reverse("taxonomy-detail-page", args=[taxonomy.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    return text[text.index("Review history") :]


def test_page_renders_after_a_rename_with_old_and_new_name(small: Taxonomy) -> None:
    taxonomy_node_rename(node=node(small, "l1:art"), name="Creative expression")
    page = history(small)
    assert "<td>Art</td><td>Creative expression</td>" in page.replace("\n    ", "")


def test_page_renders_after_a_merge_with_source_and_target(small: Taxonomy) -> None:
    taxonomy_node_merge(source=node(small, "l1:art"), target=node(small, "l1:truth"))
    page = history(small)
    assert "<td>Art</td><td>Truthfulness</td>" in page.replace("\n    ", "")


def test_page_renders_after_a_move_with_old_and_new_parent(small: Taxonomy) -> None:
    taxonomy_node_move(node=node(small, "candour"), new_parent=node(small, "l1:safe"))
    page = history(small)
    assert "<td>candour under Truthfulness</td><td>candour under Safety</td>" in page.replace("\n    ", "")


def test_page_renders_after_all_three_edits(small: Taxonomy) -> None:
    taxonomy_node_rename(node=node(small, "l1:art"), name="Creative expression")
    taxonomy_node_move(node=node(small, "candour"), new_parent=node(small, "l1:safe"))
    taxonomy_node_merge(source=node(small, "l2:protective"), target=node(small, "l2:epistemic"))
    page = history(small)
    assert page.count("<tr><td>") == 3
    assert "No manual edits yet" not in page
