"""Residual analysis and descriptive REST endpoints: login, roles, validation, stored cells, privacy threshold."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.roles import Role
from bench.synthetic import Plant, generate, task_name, write_database
from results.models import ResidualAnalysis
from tests.clients import client_for

pytestmark = pytest.mark.django_db

PLANTED = Plant("empathy", task_name(1), 8.0)


@pytest.fixture
def run_id(db: None) -> int:
    data = generate(n_conversations=1200, seed=77, n_tasks=30, plants=(PLANTED,))
    return write_database(data, dataset="api-synthetic").run_id


def test_login_and_roles_are_required(run_id: int, django_user_model) -> None:  # type: ignore[no-untyped-def]
    anonymous = APIClient()
    for url in ["/api/analysis/residuals/", "/api/analysis/descriptive/"]:
        assert anonymous.get(url).status_code in (401, 403), url
    body = {"rows": "ai_values", "cols": "task", "run": run_id}
    assert anonymous.post("/api/analysis/residuals/", body, format="json").status_code in (401, 403)
    annotator = client_for(django_user_model, Role.ANNOTATOR)
    assert annotator.post("/api/analysis/residuals/", body, format="json").status_code == 403
    assert annotator.get("/api/analysis/descriptive/").status_code == 403
    assert annotator.get("/api/analysis/residuals/").status_code == 403  # analysts only, as on the pages
    assert not ResidualAnalysis.objects.exists()


def test_create_then_read_cells(run_id: int, django_user_model) -> None:  # type: ignore[no-untyped-def]
    lead = client_for(django_user_model, Role.LEAD)
    response = lead.post(
        "/api/analysis/residuals/",
        {"rows": "ai_values", "cols": "task", "run": run_id, "min_conversations": 2, "comparisons": "cells"},
        format="json",
    )
    assert response.status_code == 202, response.content
    key = response.json()["request_key"]
    # Tasks run eagerly here (no broker): the analysis is stored by the time the request returns.
    found = lead.get(response.json()["poll"]).json()
    assert len(found) == 1
    created = found[0]
    assert created["summary"]["comparisons"] == "cells"
    assert created["summary"]["min_conversations"] == 2
    pk = created["id"]
    assert ResidualAnalysis.objects.get(pk=pk).request_key == key
    assert lead.get(f"/api/analysis/residuals/{pk}/").json()["id"] == pk
    significant = lead.get(f"/api/analysis/residuals/{pk}/cells/?significant=true").json()
    assert (PLANTED.value, PLANTED.task) in {(c["row_label"], c["col_label"]) for c in significant}
    assert all(c["significant"] for c in significant)
    residuals = [c["residual"] for c in significant]
    assert residuals == sorted(residuals, reverse=True)
    one_row = lead.get(f"/api/analysis/residuals/{pk}/cells/?row={PLANTED.value}&limit=3").json()
    assert len(one_row) <= 3
    assert {c["row_label"] for c in one_row} == {PLANTED.value}
    lowest = lead.get(f"/api/analysis/residuals/{pk}/cells/?negative=true&limit=5").json()
    assert lowest[0]["residual"] <= lowest[-1]["residual"]
    assert all(
        c["observed"] == 0 or c["observed"] >= 2
        for c in lead.get(f"/api/analysis/residuals/{pk}/cells/?limit=5000").json()
    )
    assert lead.get("/api/analysis/residuals/").json()[0]["id"] == pk
    for bad in [str(2**63), str(2**64 + 1), "5001", "0", "-1", "1e3", "x"]:
        answer = lead.get(f"/api/analysis/residuals/{pk}/cells/?limit={bad}")
        assert answer.status_code == 400, bad
        assert answer.json() == {"limit": ["must be an integer from 1 to 5000"]}


def test_a_rerun_of_the_same_request_stores_nothing_new(run_id: int) -> None:
    from results.tasks import residual_analysis_task

    params = {"rows": "ai_values", "cols": "task", "run_id": run_id, "min_conversations": 2}
    first = residual_analysis_task(request_key="k1", params=params, user_id=None)
    again = residual_analysis_task(request_key="k1", params=params, user_id=None)
    assert first == again
    assert ResidualAnalysis.objects.count() == 1


def test_invalid_requests_name_the_problem(run_id: int, django_user_model) -> None:  # type: ignore[no-untyped-def]
    engineer = client_for(django_user_model, Role.PROMPT_ENGINEER)
    bad_feature = engineer.post("/api/analysis/residuals/", {"rows": "mood", "cols": "task"}, format="json")
    assert bad_feature.status_code == 400
    assert "rows" in bad_feature.json()
    missing_run = engineer.post(
        "/api/analysis/residuals/", {"rows": "ai_values", "cols": "task", "run": 999999}, format="json"
    )
    assert missing_run.status_code == 400
    assert "999999" in str(missing_run.json())
    assert engineer.get("/api/analysis/residuals/1/cells/?limit=x").status_code in (400, 404)
    assert not ResidualAnalysis.objects.exists()


@override_settings(ANALYSIS_MIN_CONVERSATIONS=3)
def test_descriptive_endpoint_cannot_lower_the_privacy_threshold(run_id: int, django_user_model) -> None:  # type: ignore[no-untyped-def]
    lead = client_for(django_user_model, Role.LEAD)
    body = lead.get(f"/api/analysis/descriptive/?run={run_id}&min_conversations=1").json()
    assert body["min_conversations"] == 3
    tables = body["tables"]
    assert tables["ai_values"]["min_conversations"] == 3
    assert all(row["conversations"] >= 3 for row in tables["ai_values"]["rows"])
    assert tables["ai_values"]["suppressed"] > 0
    assert {"response_types", "mirroring", "value_pairs", "stated_vs_all"} <= set(tables)
    raised = lead.get(f"/api/analysis/descriptive/?run={run_id}&min_conversations=10").json()
    assert raised["min_conversations"] == 10
    assert lead.get("/api/analysis/descriptive/?run=abc").status_code == 400


def test_descriptive_endpoint_takes_the_dataset_by_name_or_id(run_id: int, django_user_model) -> None:  # type: ignore[no-untyped-def]
    from extraction.models import ExtractionRun

    dataset = ExtractionRun.objects.select_related("dataset").get(pk=run_id).dataset
    lead = client_for(django_user_model, Role.LEAD)
    by_name = lead.get(f"/api/analysis/descriptive/?dataset={dataset.name}&min_conversations=2").json()
    by_id = lead.get(f"/api/analysis/descriptive/?dataset={dataset.pk}&min_conversations=2").json()
    assert by_name == by_id
    assert by_name["tables"]["ai_values"]["rows"]
    unknown = lead.get("/api/analysis/descriptive/?dataset=no-such-set")
    assert unknown.status_code == 400
    (message,) = unknown.json()["dataset"]
    assert message.startswith("no dataset named 'no-such-set' (datasets: ")
    assert dataset.name in message


def test_the_descriptive_page_shows_the_endpoints_tables_for_a_dataset(run_id: int, django_user_model) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    from tests.pages import client_as

    lead = client_for(django_user_model, Role.LEAD)
    body = lead.get("/api/analysis/descriptive/?dataset=api-synthetic").json()
    page = client_as(Role.LEAD).get(reverse("descriptive-page") + "?dataset=api-synthetic")
    assert page.status_code == 200
    text = page.content.decode()
    ai = body["tables"]["ai_values"]
    section = text[text.index('<section id="ai_values">') :]
    section = section[: section.index("</section>")]
    assert "(the paper's Table 1)" in section
    first = ai["rows"][0]
    cells = "".join(f"<td>{v:.2f}</td>" if isinstance(v, float) else f"<td>{v}</td>" for v in first.values())
    assert f"<tr>{cells}</tr>" in section
    assert section.count("<tr>") == len(ai["rows"]) + 1
    assert re.findall(r'<section id="([^"]+)">', text) == list(body["tables"])
    annotator = client_as(Role.ANNOTATOR).get(reverse("descriptive-page"))
    assert annotator.status_code == 403


@pytest.mark.parametrize("dataset", ["%00", "sample%00", "99999999999999999999", "%C2%B2"])
def test_descriptive_endpoint_answers_400_to_a_dataset_no_database_can_hold(
    dataset: str,
    django_user_model,  # type: ignore[no-untyped-def]
) -> None:
    # A NUL in the name (PostgreSQL refuses it in a query), an id above 2^63 and a non-ASCII digit were each a 500.
    lead = client_for(django_user_model, Role.LEAD)
    response = lead.get(f"/api/analysis/descriptive/?dataset={dataset}")
    assert response.status_code == 400, response.content
    assert "dataset" in response.json()
