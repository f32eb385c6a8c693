"""The gold-set endpoints: role-checked, create from reviews or import, export, score, compare on a gold set."""

from __future__ import annotations

import json

from rest_framework.test import APIClient

from accounts.roles import Role
from tests.validation.conftest import Study
from tests.validation.test_api import _client
from validation.models import GoldSet


def test_annotators_are_refused_gold_sets(study: Study) -> None:
    assert _client(Role.ANNOTATOR).get("/api/validation/gold-sets/").status_code == 403
    assert APIClient().get("/api/validation/gold-sets/").status_code in (401, 403)


def test_create_export_import_score_and_compare(study: Study) -> None:
    engineer = _client(Role.PROMPT_ENGINEER)
    made = engineer.post("/api/validation/gold-sets/", {"name": "study", "run": study.run.pk}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "frozen"
    assert body["label_count"] == body["params"]["taken"]["ai_values"] + body["params"]["taken"]["response_type"]
    pk = body["id"]

    export = engineer.get(f"/api/validation/gold-sets/{pk}/export/?fmt=jsonl")
    assert export.status_code == 200
    assert export["Content-Disposition"] == 'attachment; filename="gold-study-v1.jsonl"'
    rows = [json.loads(line) for line in export.content.decode().splitlines()]
    imported = engineer.post(
        "/api/validation/gold-sets/",
        {"name": "team", "dataset": study.run.dataset_id, "rows": rows},
        format="json",
    )
    assert imported.status_code == 201, imported.content
    assert imported.json()["label_count"] == body["label_count"]

    bad = engineer.post(
        "/api/validation/gold-sets/",
        {"name": "team", "dataset": study.run.dataset_id, "rows": [{"conversation": "nope", "feature": "ai_values"}]},
        format="json",
    )
    assert bad.status_code == 400
    assert "rows[0]: missing field 'labels'" in bad.json()["detail"]
    assert GoldSet.objects.count() == 2

    score = engineer.get(f"/api/validation/gold-sets/{pk}/score/?prompts={study.v2.pk}&n_boot=50")
    assert score.status_code == 200
    assert score.json()["features"]["ai_values"]["kind"] == "values"
    assert engineer.get(f"/api/validation/gold-sets/{pk}/score/").status_code == 400
    assert engineer.get("/api/validation/gold-sets/999999/").status_code == 404

    compared = engineer.get(
        f"/api/validation/compare/?baseline={study.v1.pk}&candidate={study.v2.pk}&gold={pk}&n_boot=50"
    )
    assert compared.status_code == 200, compared.content
    assert compared.json()["params"]["method"] == "gold set"
    assert "ai_values" in compared.json()["features"]
    on_reviews = engineer.get(f"/api/validation/compare/?baseline={study.v1.pk}&candidate={study.v2.pk}&reviews=true")
    assert on_reviews.status_code == 200
    assert "method" not in on_reviews.json()["params"]
