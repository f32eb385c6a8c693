"""Queued work is started once: a POST identical to a pending or running job answers that job (200) instead of
queueing a second one; the guarantee is a partial unique index, so two requests at the same instant (PostgreSQL,
two connections) also end with one job.

The tasks go to a real Redis broker that no worker reads, so the jobs stay pending for as long as the test needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from accounts.roles import Role, user_add_role
from annotate import services as annotate_services
from extraction.models import ExtractionRun
from jobs.models import Job, JobStatus
from jobs.services import job_finish
from tests.annotate.factories import run_with_extractions
from tests.extraction.conftest import RecordingsWriter

BUILD = "/api/analysis/taxonomies/build/"
RESIDUALS = "/api/analysis/residuals/"
RUNS = "/api/extraction/runs/"


def lead(name: str = "lead") -> APIClient:
    user = get_user_model().objects.create_user(name)
    user_add_role(user=user, role=Role.LEAD)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_database_refuses_a_second_active_job_for_one_request(db: None) -> None:
    Job.objects.create(kind="taxonomy_build", key="k", ref="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind="taxonomy_build", key="k", ref="b", status=JobStatus.RUNNING)
    # Finished jobs do not count: the same request may run again once the first is over.
    Job.objects.filter(ref="a").update(status=JobStatus.DONE)
    Job.objects.create(kind="taxonomy_build", key="k", ref="c")
    assert Job.objects.filter(key="k").count() == 2


@pytest.mark.django_db
def test_a_repeated_taxonomy_build_answers_the_pending_one(queue_without_workers: str) -> None:
    ada, grace = lead("ada"), lead("grace")
    body = {"name": "values", "sizes": [4, 2], "seed": 3}
    first = ada.post(BUILD, body, format="json")
    assert first.status_code == 202, first.content
    again = grace.post(BUILD, {**body, "levels": 4}, format="json")  # the default written out: the same request
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (again.json()["build_key"], again.json()["job"]) == (first.json()["build_key"], first.json()["job"])
    assert Job.objects.filter(kind="taxonomy_build").count() == 1
    # Another build is other work; once the first is over, the same build may run again.
    assert ada.post(BUILD, {**body, "seed": 4}, format="json").status_code == 202
    job_finish(job_id=first.json()["job"], result={"taxonomy": None})
    later = ada.post(BUILD, body, format="json")
    assert later.status_code == 202
    assert later.json()["build_key"] != first.json()["build_key"]
    assert redis.Redis.from_url(queue_without_workers).llen("celery") == 3


@pytest.mark.django_db
def test_a_repeated_residual_analysis_answers_the_pending_one(queue_without_workers: str) -> None:
    run = run_with_extractions(6)
    client = lead()
    body = {"rows": "response_type", "cols": "task", "run": run.pk}
    first = client.post(RESIDUALS, body, format="json")
    assert first.status_code == 202, first.content
    again = client.post(RESIDUALS, body, format="json")
    assert again.status_code == 200
    assert again.json()["request_key"] == first.json()["request_key"]
    assert Job.objects.filter(kind="residual_analysis", status=JobStatus.PENDING).count() == 1
    assert redis.Redis.from_url(queue_without_workers).llen("celery") == 1


@pytest.mark.django_db
def test_a_repeated_run_launch_answers_the_running_run(
    queue_without_workers: str, small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings()
    client = lead()
    first = client.post(RUNS, {"dataset": "small", "prompt_set": "paper-v1"}, format="json")
    assert first.status_code == 201, first.content
    again = client.post(
        RUNS, {"dataset": "small", "prompt_set": "paper-v1", "features": [], "samples": 1}, format="json"
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert ExtractionRun.objects.count() == 1
    other = client.post(RUNS, {"dataset": "small", "prompt_set": "paper-v1", "limit": 2}, format="json")
    assert other.status_code == 201
    assert ExtractionRun.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.labelstudio
@pytest.mark.parametrize("action", ["push", "reconcile"])
def test_a_repeated_push_or_reconcile_answers_the_queued_job(
    queue_without_workers: str, local_label_studio: Any, settings: Any, action: str
) -> None:
    settings.LABEL_STUDIO_URL, settings.LABEL_STUDIO_API_KEY = local_label_studio.url, local_label_studio.api_key
    run = run_with_extractions(2)
    sample = annotate_services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=1)
    client = lead()
    first = client.post(f"/api/annotate/samples/{sample.pk}/{action}/")
    assert first.status_code == 202, first.content
    again = client.post(f"/api/annotate/samples/{sample.pk}/{action}/")
    assert (again.status_code, again.json()["job"], again.json()["duplicate"]) == (200, first.json()["job"], True)
    assert Job.objects.filter(kind=f"sample_{action}").count() == 1
    assert redis.Redis.from_url(queue_without_workers).llen("celery") == 1


def _at_once(n: int, request: Callable[[], Any]) -> list[Any]:
    """``n`` threads send ``request`` together (each on its own database connection)."""
    barrier = threading.Barrier(n)
    answers: list[Any] = []

    def send() -> None:
        try:
            barrier.wait()
            answers.append(request())
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_two_identical_builds_at_the_same_instant_make_one_job_on_postgresql(
    requires_postgres: None, queue_without_workers: str
) -> None:
    client = lead()
    answers = _at_once(2, lambda: client.post(BUILD, {"name": "race", "sizes": [3]}, format="json"))
    assert sorted(a.status_code for a in answers) == [200, 202]
    assert len({a.json()["job"] for a in answers}) == 1
    assert Job.objects.filter(kind="taxonomy_build").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_identical_run_launches_at_the_same_instant_make_one_run_on_postgresql(
    requires_postgres: None, queue_without_workers: str, small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings()
    client = lead()
    answers = _at_once(2, lambda: client.post(RUNS, {"dataset": "small", "prompt_set": "paper-v1"}, format="json"))
    assert sorted(a.status_code for a in answers) == [200, 201], [a.content for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert ExtractionRun.objects.count() == 1
