"""A request whose broker or cache is down answers 503 with Retry-After (JSON under /api/, the site's layout on a
page), never a 500; queued work is not left half-started, and the same request succeeds once the service is back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.roles import Role
from bench.synthetic import generate, write_database
from config.celery import app
from jobs.models import Job
from results.models import ResidualAnalysis
from tests.clients import client_for
from tests.conftest import celery_conf

CLOSED = "redis://127.0.0.1:9/0"  # nothing listens on port 9


@pytest.fixture
def run_id(db: None) -> int:
    return write_database(generate(n_conversations=200, seed=5, n_tasks=5), dataset="unavailable").run_id


@pytest.fixture
def broker_down() -> Iterator[None]:
    with celery_conf(app, broker_url=CLOSED, task_always_eager=False, broker_connection_timeout=1):
        yield


def test_queued_work_while_the_broker_is_down_is_503_and_starts_afresh_when_it_is_back(
    run_id: int, django_user_model: Any, broker_down: None
) -> None:
    lead: APIClient = client_for(django_user_model, Role.LEAD)
    body = {"rows": "ai_values", "cols": "task", "run": run_id, "min_conversations": 2}
    answer = lead.post("/api/analysis/residuals/", body, format="json")
    assert answer.status_code == 503, answer.content
    assert answer["Retry-After"] == "60"
    assert answer.json() == {"detail": "the task queue (broker) is not reachable; try again later"}
    assert list(Job.objects.values_list("status", flat=True)) == ["failed"]  # not left pending for ever

    app.conf.update(task_always_eager=True)  # the broker is back (here: tasks run in the request)
    again = lead.post("/api/analysis/residuals/", body, format="json")
    assert again.status_code == 202, again.content
    assert again.json()["duplicate"] is False
    assert ResidualAnalysis.objects.count() == 1


def test_a_page_whose_cache_is_down_is_503_in_the_sites_layout(
    client: Client, django_user_model: Any, settings: Any
) -> None:
    lead = django_user_model.objects.create_user("lead-cache")
    from accounts.roles import user_add_role

    user_add_role(user=lead, role=Role.LEAD)
    client.force_login(lead)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED,
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    answer = client.get("/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "60"
    html = answer.content.decode()
    assert "<h1>Not available right now</h1>" in html
    assert "the shared cache (Redis) is not reachable" in html
    assert 'href="/"' in html  # the site's layout, with its navigation


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_run_started_while_the_broker_is_down_is_503_failed_and_started_afresh_when_it_is_back(
    run_id: int, django_user_model: Any, queue_without_workers: str
) -> None:
    from extraction.models import ExtractionRun, RunStatus

    engineer: APIClient = client_for(django_user_model, Role.PROMPT_ENGINEER)
    body = {"dataset": "unavailable", "prompt_set": "paper-v1", "provider": "replay", "limit": 3}
    with celery_conf(app, broker_url=CLOSED, broker_connection_timeout=1):
        answer = engineer.post("/api/extraction/runs/", body, format="json")
    assert answer.status_code == 503, answer.content
    assert answer["Retry-After"] == "60"
    failed = ExtractionRun.objects.get(launch_key__gt="")
    assert failed.status == RunStatus.FAILED  # not left running with nothing queued
    assert "could not be queued" in failed.error

    # The broker is back (no worker: the run's tasks wait in the queue).
    again = engineer.post("/api/extraction/runs/", body, format="json")
    assert again.status_code == 201, again.content
    assert again.json()["id"] != failed.pk
    assert ExtractionRun.objects.get(pk=again.json()["id"]).status == RunStatus.RUNNING
