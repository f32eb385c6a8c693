"""Taxonomy REST endpoints: authentication, roles for edits, import upload, nodes, ancestors, history, builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.roles import Role, user_add_role
from taxonomy.models import Taxonomy, TaxonomyEdit, TaxonomyNode
from taxonomy.services import taxonomy_import_tree
from tests.clients import client_for
from tests.taxonomy.test_taxonomy_services import TREE

pytestmark = pytest.mark.django_db


@pytest.fixture
def taxonomy(tmp_path: Path) -> Taxonomy:
    path = tmp_path / "values_tree.csv"
    path.write_text(TREE, encoding="utf-8")
    return taxonomy_import_tree(path=path, name="small")


def nid(taxonomy: Taxonomy, key: str) -> int:
    return TaxonomyNode.objects.get(taxonomy=taxonomy, key=key).pk


def test_every_endpoint_needs_a_login(taxonomy: Taxonomy) -> None:
    anonymous = APIClient()
    for url in [
        "/api/analysis/taxonomies/",
        f"/api/analysis/taxonomies/{taxonomy.pk}/",
        f"/api/analysis/taxonomies/{taxonomy.pk}/nodes/",
        f"/api/analysis/taxonomies/{taxonomy.pk}/ancestors/?level=1",
    ]:
        assert anonymous.get(url).status_code in (401, 403), url
    assert anonymous.post(
        f"/api/analysis/taxonomy-nodes/{nid(taxonomy, 'l1:art')}/rename/", {"name": "x"}
    ).status_code in (
        401,
        403,
    )


def test_reading_the_tree(taxonomy: Taxonomy, django_user_model) -> None:  # type: ignore[no-untyped-def]
    api = client_for(django_user_model, Role.ANNOTATOR)
    listing = api.get("/api/analysis/taxonomies/").json()
    assert [(t["name"], t["version"], t["node_count"]) for t in listing] == [("small", 1, 10)]
    detail = api.get(f"/api/analysis/taxonomies/{taxonomy.pk}/").json()
    assert detail["level_counts"] == {"0": 5, "1": 3, "2": 2}
    assert detail["naming_note"] == ""
    nodes = api.get(f"/api/analysis/taxonomies/{taxonomy.pk}/nodes/?level=1").json()
    assert [(n["name"], n["size"]) for n in nodes] == [("Safety", 2), ("Truthfulness", 2), ("Art", 1)]
    children = api.get(f"/api/analysis/taxonomies/{taxonomy.pk}/nodes/?parent={nid(taxonomy, 'l1:truth')}").json()
    assert {n["name"] for n in children} == {"honesty", "candour"}
    assert api.get(f"/api/analysis/taxonomies/{taxonomy.pk}/nodes/?level=x").status_code == 400
    ancestors = api.get(f"/api/analysis/taxonomies/{taxonomy.pk}/ancestors/?level=2").json()["ancestors"]
    assert ancestors["candour"] == "Epistemic"
    assert api.get(f"/api/analysis/taxonomies/{taxonomy.pk}/ancestors/?level=7").status_code == 400


def test_edits_need_a_lead(taxonomy: Taxonomy, django_user_model) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/analysis/taxonomy-nodes/{nid(taxonomy, 'l1:art')}/rename/"
    annotator = client_for(django_user_model, Role.ANNOTATOR)
    assert annotator.post(url, {"name": "Creative expression"}).status_code == 403
    engineer = client_for(django_user_model, Role.PROMPT_ENGINEER)
    assert engineer.post(url, {"name": "Creative expression"}).status_code == 403
    art = nid(taxonomy, "l1:art")
    assert (
        engineer.post(f"/api/analysis/taxonomy-nodes/{art}/merge/", {"into": nid(taxonomy, "l1:truth")}).status_code
        == 403
    )
    assert (
        engineer.post(
            f"/api/analysis/taxonomy-nodes/{nid(taxonomy, 'candour')}/move/", {"new_parent": nid(taxonomy, "l1:safe")}
        ).status_code
        == 403
    )
    assert not TaxonomyEdit.objects.exists()
    assert TaxonomyNode.objects.get(pk=art).name == "Art"
    lead = client_for(django_user_model, Role.LEAD)
    response = lead.post(url, {"name": "Creative expression", "description": "Making things."})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Creative expression"


def test_merge_move_and_history_through_the_api(taxonomy: Taxonomy, django_user_model) -> None:  # type: ignore[no-untyped-def]
    lead = client_for(django_user_model, Role.LEAD)
    moved = lead.post(
        f"/api/analysis/taxonomy-nodes/{nid(taxonomy, 'candour')}/move/", {"new_parent": nid(taxonomy, "l1:safe")}
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["parent"] == nid(taxonomy, "l1:safe")
    refused = lead.post(
        f"/api/analysis/taxonomy-nodes/{nid(taxonomy, 'honesty')}/move/", {"new_parent": nid(taxonomy, "l1:safe")}
    )
    assert refused.status_code == 400
    assert "empty" in refused.json()["new_parent"][0]
    merged = lead.post(
        f"/api/analysis/taxonomy-nodes/{nid(taxonomy, 'l1:art')}/merge/", {"into": nid(taxonomy, "l1:truth")}
    )
    assert merged.status_code == 200, merged.content
    assert merged.json()["size"] == 2
    history = lead.get(f"/api/analysis/taxonomies/{taxonomy.pk}/edits/").json()
    assert [e["action"] for e in history] == ["merge", "move"]
    assert history[0]["user"] == "user-lead"


def test_import_upload(django_user_model) -> None:  # type: ignore[no-untyped-def]
    lead = client_for(django_user_model, Role.LEAD)
    upload = SimpleUploadedFile("tree.csv", TREE.encode(), content_type="text/csv")
    response = lead.post("/api/analysis/taxonomies/import/", {"file": upload, "name": "uploaded"}, format="multipart")
    assert response.status_code == 201, response.content
    assert (response.json()["name"], response.json()["node_count"]) == ("uploaded", 10)
    bad = SimpleUploadedFile("tree.csv", TREE.replace(",1,l2:epistemic,", ",1,l2:nowhere,", 1).encode())
    response = lead.post("/api/analysis/taxonomies/import/", {"file": bad}, format="multipart")
    assert response.status_code == 400
    assert response.json()["file"][0].startswith("tree.csv:7: parent 'l2:nowhere'")
    assert Taxonomy.objects.count() == 1


@pytest.mark.slow
def test_build_and_map_from_extractions(django_user_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from corpus.models import Conversation, Dataset
    from extraction.models import Extraction, PromptVersion

    ds = Dataset.objects.create(name="d")
    pv = PromptVersion.objects.create(prompt_set="paper-v1", feature="ai_values", content_hash="h", template="t")
    labels = [
        ["honesty", "transparency"],
        ["patient safety", "harm prevention"],
        ["creativity", "artistic expression"],
        ["efficiency", "productivity"],
        ["truthfulness", "child safety"],
        ["imagination", "time management"],
    ]
    for i, row in enumerate(labels):
        conv = Conversation.objects.create(
            dataset=ds, external_id=str(i), source="openai", messages=[], content_hash=str(i), turn_count=0
        )
        Extraction.objects.create(
            conversation=conv, feature="ai_values", prompt_version=pv, model="m", status="ok", labels=row
        )
    lead = client_for(django_user_model, Role.LEAD)
    with override_settings(TAXONOMY_EMBEDDING_CACHE=str(tmp_path)):
        response = lead.post(
            "/api/analysis/taxonomies/build/", {"name": "from-data", "sizes": [4, 2], "seed": 3}, format="json"
        )
        assert response.status_code == 201, response.content  # Celery runs eagerly in tests.
        built = Taxonomy.objects.get(pk=response.json()["taxonomy"])
        assert built.build_key == response.json()["build_key"]
        assert {
            int(k): v for k, v in lead.get(f"/api/analysis/taxonomies/{built.pk}/").json()["level_counts"].items()
        } == {
            0: 12,
            1: 4,
            2: 2,
        }
        assert lead.get(f"/api/analysis/taxonomies/{built.pk}/").json()["naming_note"].startswith("Cluster names are")
        assert len(built.stability["ari_by_level"]) == 2
        mapped = lead.post(f"/api/analysis/taxonomies/{built.pk}/map/", {"threshold": 0.5}, format="json")
        assert mapped.status_code == 202
    unmapped = lead.get(f"/api/analysis/taxonomies/{built.pk}/unmapped/").json()["unmapped"]
    assert unmapped == []
    annotator = client_for(django_user_model, Role.ANNOTATOR)
    assert annotator.post("/api/analysis/taxonomies/build/", {}, format="json").status_code == 403


def test_taxonomy_pages_show_the_tree_and_say_when_names_are_fallbacks(
    taxonomy: Taxonomy,
    django_user_model,  # type: ignore[no-untyped-def]
) -> None:
    from django.test import Client

    client = Client()
    assert client.get(f"/analysis/taxonomies/{taxonomy.pk}/").status_code == 302  # to the login page
    reader = django_user_model.objects.create_user("reader")
    client.force_login(reader)
    assert client.get("/analysis/taxonomies/").status_code == 403  # signed in without a role: nothing
    user_add_role(user=reader, role=Role.ANNOTATOR)
    listing = client.get("/analysis/taxonomies/").content.decode()
    assert "small v1" in listing
    page = client.get(f"/analysis/taxonomies/{taxonomy.pk}/").content.decode()
    assert "Truthfulness" in page
    assert "honesty, candour" in page or "candour, honesty" in page
    assert "Names are fallbacks" not in page
    Taxonomy.objects.filter(pk=taxonomy.pk).update(names_are_fallback=True)
    assert "Names are fallbacks" in client.get(f"/analysis/taxonomies/{taxonomy.pk}/").content.decode()
