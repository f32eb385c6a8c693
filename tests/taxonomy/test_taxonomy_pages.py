"""The taxonomy page after each manual review edit: it renders, and its history says what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
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


# ------------------------------------------------------------------------------------------------ the lead's forms


def edit(client: Any, taxonomy: Taxonomy, **data: Any) -> Any:
    return client.post(reverse("taxonomy-edit-page", args=[taxonomy.pk]), data)


def detail(client: Any, taxonomy: Taxonomy) -> str:
    response = client.get(reverse("taxonomy-detail-page", args=[taxonomy.pk]))
    assert response.status_code == 200
    return str(response.content.decode())


def test_leads_see_the_three_review_forms_and_others_do_not(small: Taxonomy) -> None:
    action = f'action="{reverse("taxonomy-edit-page", args=[small.pk])}"'
    page = detail(client_as(Role.LEAD), small)
    assert page.count(action) == 3
    for form in ("rename-form", "merge-form", "move-form"):
        assert f'id="{form}"' in page
    assert f'<option value="{node(small, "l1:art").pk}">Art (level 1)</option>' in page
    for role in (Role.PROMPT_ENGINEER, Role.ANNOTATOR):
        page = detail(client_as(role), small)
        assert action not in page, role
        assert "Review history" in page, role


def test_a_lead_renames_a_cluster_through_the_form(small: Taxonomy) -> None:
    lead = client_as(Role.LEAD)
    art = node(small, "l1:art")
    response = edit(lead, small, action="rename", node=art.pk, name="  Creative   expression ")
    assert response.status_code == 302
    assert response["Location"] == reverse("taxonomy-detail-page", args=[small.pk]) + "#history"
    art.refresh_from_db()
    assert art.name == "Creative expression"
    page = history(small)
    assert "<td>Rename</td><td>Art</td><td>Creative expression</td>" in page.replace("\n    ", "")
    assert "<td>page-lead-" in page  # the log names who edited


def test_a_lead_merges_and_moves_through_the_forms(small: Taxonomy) -> None:
    lead = client_as(Role.LEAD)
    merged = edit(lead, small, action="merge", node=node(small, "l1:art").pk, into=node(small, "l1:truth").pk)
    assert merged.status_code == 302
    assert not TaxonomyNode.objects.filter(taxonomy=small, key="l1:art").exists()
    assert node(small, "creativity").parent_id == node(small, "l1:truth").pk
    moved = edit(lead, small, action="move", node_name="candour", new_parent=node(small, "l1:safe").pk)
    assert moved.status_code == 302
    assert node(small, "candour").parent_id == node(small, "l1:safe").pk
    page = history(small).replace("\n    ", "")
    assert "<td>Art</td><td>Truthfulness</td>" in page
    assert "<td>candour under Truthfulness</td><td>candour under Safety</td>" in page


def test_an_edit_the_tree_refuses_shows_the_page_again_with_the_reason(small: Taxonomy) -> None:
    lead = client_as(Role.LEAD)
    response = edit(lead, small, action="merge", node=node(small, "l1:art").pk, into=node(small, "l2:epistemic").pk)
    assert response.status_code == 400
    text = response.content.decode()
    assert "cannot merge level 1 into level 2: levels must match" in text
    assert '<details class="toggle" open><summary>Merge</summary>' in text
    unknown = edit(lead, small, action="move", node_name="no such value", new_parent=node(small, "l1:safe").pk)
    assert unknown.status_code == 400
    assert "no value or cluster of this taxonomy is called" in unknown.content.decode()
    assert TaxonomyNode.objects.filter(taxonomy=small, key="l1:art").exists()
    assert "No manual edits yet" in history(small)


def test_only_leads_may_post_edits(small: Taxonomy) -> None:
    art = node(small, "l1:art")
    for role in (Role.PROMPT_ENGINEER, Role.ANNOTATOR, None):
        response = edit(client_as(role), small, action="rename", node=art.pk, name="Hijacked")
        assert response.status_code == 403, role
    anonymous = edit(Client(), small, action="rename", node=art.pk, name="Hijacked")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    art.refresh_from_db()
    assert art.name == "Art"
    assert client_as(Role.LEAD).get(reverse("taxonomy-edit-page", args=[small.pk])).status_code == 405


# ------------------------------------------------------------------------------------------------ the tree itself


def tree_part(taxonomy: Taxonomy) -> str:
    """The page's tree: between the chart and whatever follows it (the review forms or the history)."""
    text = detail(client_as(Role.ANNOTATOR), taxonomy)
    return text[text.index("</figure>") : text.index("Review history")]


def test_the_tree_lists_every_cluster_with_its_share_and_every_value_under_its_cluster(small: Taxonomy) -> None:
    tree = tree_part(small)
    assert tree.count("<details>") == 5  # 2 + 3 clusters; the values are listed in their level-1 cluster
    assert (
        '<summary><strong>Truthfulness</strong> <span class="muted">— 2 values, 2.0% of occurrences</span></summary>'
        '<p class="muted">Being truthful,<br>even when it is hard.</p><p>candour, honesty</p>'
    ) in tree
    assert tree.index("<strong>Epistemic</strong>") < tree.index("<strong>Truthfulness</strong>") < tree.index("Art")


def test_names_in_the_tree_are_escaped(small: Taxonomy) -> None:
    taxonomy_node_rename(node=node(small, "l1:art"), name="<script>alert(1)</script> & co")
    tree = tree_part(small)
    assert "<script>alert" not in tree
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</strong>" in tree


def test_the_tree_follows_each_edit_at_once(small: Taxonomy) -> None:
    """The tree is drawn once per version of the taxonomies and kept: every edit must show on the next request."""
    assert "<strong>Art</strong>" in tree_part(small)
    taxonomy_node_rename(node=node(small, "l1:art"), name="Creative expression")
    renamed = tree_part(small)
    assert "<strong>Creative expression</strong>" in renamed
    assert "<strong>Art</strong>" not in renamed
    taxonomy_node_move(node=node(small, "candour"), new_parent=node(small, "l1:safe"))
    moved = tree_part(small)
    assert "<p>honesty</p>" in moved
    assert "<p>candour, harm prevention, safety</p>" in moved  # by size, then name
    taxonomy_node_merge(source=node(small, "l1:art"), target=node(small, "l1:truth"))
    merged = tree_part(small)
    assert "Creative expression" not in merged
    assert "<p>creativity, honesty</p>" in merged


def test_a_refused_edit_keeps_the_clusters_the_lead_picked(small: Taxonomy) -> None:
    art, epistemic = node(small, "l1:art"), node(small, "l2:epistemic")
    response = edit(client_as(Role.LEAD), small, action="merge", node=art.pk, into=epistemic.pk)
    assert response.status_code == 400
    merge_form = response.content.decode().split('id="merge-form"')[1].split("</form>")[0]
    assert f'<option value="{art.pk}" selected>Art (level 1)</option>' in merge_form
    assert f'<option value="{epistemic.pk}" selected>Epistemic (level 2)</option>' in merge_form
    assert merge_form.count(" selected>") == 2
    assert '<select name="node" id="id_merge_node">' in merge_form
