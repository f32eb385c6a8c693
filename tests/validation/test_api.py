"""The validation REST endpoints: authenticated, role-checked, clear 4xx on bad input."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.roles import Role, user_add_role
from stats.proportions import additional_reviews_needed, required_sample_size
from tests.validation.conftest import Study
from validation.models import ReportSnapshot


def _client(role: str | None) -> APIClient:
    user = get_user_model().objects.create_user(username=f"user-{role}", password="x")
    if role:
        user_add_role(user=user, role=role)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def lead(db: None) -> APIClient:
    return _client(Role.LEAD)


def test_anonymous_and_annotators_are_refused(study: Study) -> None:
    url = f"/api/validation/runs/{study.run.pk}/agreement/"
    assert APIClient().get(url).status_code in (401, 403)
    assert _client(Role.ANNOTATOR).get(url).status_code == 403
    assert _client(None).get("/api/validation/planner/?expected=0.9&half_width=0.05").status_code == 403


def test_agreement_report_live_and_snapshots(study: Study, lead: APIClient) -> None:
    live = lead.get(f"/api/validation/runs/{study.run.pk}/agreement/?n_boot=20")
    assert live.status_code == 200
    assert live.json()["counts"]["reviews"] == 110
    created = lead.post(f"/api/validation/runs/{study.run.pk}/snapshots/", {"n_boot": 20, "seed": 3}, format="json")
    assert created.status_code == 201
    snap = ReportSnapshot.objects.get(pk=created.json()["id"])
    assert snap.params["seed"] == 3
    assert snap.created_by is not None
    listed = lead.get(f"/api/validation/runs/{study.run.pk}/snapshots/").json()
    assert [s["id"] for s in listed] == [snap.pk]
    assert "payload" not in listed[0]
    detail = lead.get(f"/api/validation/snapshots/{snap.pk}/").json()
    assert detail["payload"]["run"] == study.run.pk


def test_agreement_errors(study: Study, lead: APIClient) -> None:
    assert lead.get("/api/validation/runs/98765/agreement/").status_code == 404
    bad = lead.get(f"/api/validation/runs/{study.run.pk}/agreement/?n_boot=-1")
    assert bad.status_code == 400
    assert "n_boot" in bad.json()


def test_compare(study: Study) -> None:
    engineer = _client(Role.PROMPT_ENGINEER)
    res = engineer.get("/api/validation/compare/?baseline=paper-v1&candidate=paper-v2")
    assert res.status_code == 200
    assert res.json()["features"]["ai_values"]["n"] == study.n
    saved = engineer.post("/api/validation/compare/", {"baseline": "paper-v1", "candidate": "paper-v2"}, format="json")
    assert saved.status_code == 201
    bad = engineer.get("/api/validation/compare/?baseline=paper-v1&candidate=nope")
    assert bad.status_code == 400
    assert "no prompt version matches" in bad.json()["detail"]


def test_planner(lead: APIClient) -> None:
    res = lead.get("/api/validation/planner/?expected=0.95&half_width=0.05").json()
    assert res["n"] == required_sample_size(0.95, 0.05)
    res = lead.get("/api/validation/planner/?successes=79&n=80&half_width=0.02").json()
    assert res["additional"] == additional_reviews_needed(79, 80, 0.02)
    assert round(res["current"]["half_width"], 3) == 0.033
    assert lead.get("/api/validation/planner/?half_width=0.02").status_code == 400
    assert lead.get("/api/validation/planner/?successes=9&n=8&half_width=0.02").status_code == 400
