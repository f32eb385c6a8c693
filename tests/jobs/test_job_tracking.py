"""A job follows its task through Celery's automatic retries: retrying (still active, with the reason) while a retry
is queued, done when a later attempt succeeds, failed only once the retries are used up.

The tasks run through Celery's own ``apply`` (its tracer, its autoretry wrapper and ``Task.retry``), which runs each
retry at once after the attempt that asked for it; each attempt first records the job's status as a client polling
it would see it between two attempts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Task
from django.db import OperationalError

from config.celery import app
from jobs.models import Job, JobStatus
from jobs.services import job_start_once, job_tracking

pytestmark = pytest.mark.django_db


class BusyError(Exception):
    """A transient error the test task retries."""


#: The job's status as each attempt found it, before it started its work.
seen: list[str] = []


@app.task(bind=True, name="tests.jobs.flaky", autoretry_for=(BusyError,), max_retries=2, default_retry_delay=0)
def flaky(self: Task, job_id: int, failures: int, error: str = "busy") -> str:
    """Fails with ``BusyError`` (or a ``ValueError`` when ``error`` is "bad") on its first ``failures`` attempts."""
    seen.append(Job.objects.get(pk=job_id).status)
    with job_tracking(job_id=job_id, task=self) as tracking:
        if self.request.retries < failures:
            raise BusyError("the service is busy") if error == "busy" else ValueError("bad input")
        tracking.result = {"attempts": self.request.retries + 1}
    return "ok"


def _job(kind: str = "flaky") -> Job:
    job, created = job_start_once(kind=kind, params={}, user=None, enqueue=lambda job: "task-id")
    assert created
    return job


@pytest.fixture(autouse=True)
def _attempts_run_through() -> Iterator[None]:
    """Each attempt's outcome kept in its result, as a worker does, rather than raised out of ``apply`` (the test
    settings propagate eager errors); and no attempt of an earlier test in ``seen``."""
    seen.clear()
    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def test_a_retried_task_shows_its_job_retrying_between_attempts_then_done() -> None:
    job = _job()
    flaky.apply(args=(job.pk, 1))
    assert seen == [JobStatus.PENDING, JobStatus.RETRYING]
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.DONE, {"attempts": 2})


def test_a_retrying_job_keeps_its_reason_and_stays_the_answer_to_an_identical_request() -> None:
    job = _job()
    between: list[tuple[str, str, bool]] = []

    @app.task(
        bind=True, name="tests.jobs.look_between", autoretry_for=(BusyError,), max_retries=1, default_retry_delay=0
    )
    def look_between(self: Task, job_id: int) -> None:
        if self.request.retries:
            row = Job.objects.get(pk=job_id)
            again, created = job_start_once(kind="flaky", params={}, user=None, enqueue=lambda job: "second")
            between.append((row.status, row.error, created or again.pk != job_id))
        with job_tracking(job_id=job_id, task=self):
            if not self.request.retries:
                raise BusyError("the service is busy")

    look_between.apply(args=(job.pk,))
    assert between == [
        (JobStatus.RETRYING, "retry 1 of 1 queued after BusyError: the service is busy", False),
    ]
    assert Job.objects.count() == 1


def test_a_job_fails_only_when_the_retries_are_used_up() -> None:
    job = _job()
    result = flaky.apply(args=(job.pk, 5))
    assert result.failed()
    # Three attempts: the first and two retries (max_retries=2); the job was retrying before each retry.
    assert seen == [JobStatus.PENDING, JobStatus.RETRYING, JobStatus.RETRYING]
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "BusyError: the service is busy")
    assert job.finished_at is not None


def test_an_error_the_task_does_not_retry_fails_the_job_at_once() -> None:
    job = _job()
    assert flaky.apply(args=(job.pk, 1), kwargs={"error": "bad"}).failed()
    assert seen == [JobStatus.PENDING]
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, "ValueError: bad input")


def test_a_task_called_as_a_function_is_not_retried_so_its_job_fails() -> None:
    job = _job()
    with pytest.raises(BusyError):
        flaky(job.pk, 1)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_the_taxonomy_build_task_shows_its_job_retrying_after_a_lost_database_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from taxonomy import tasks

    job = _job("taxonomy_build")
    calls: list[str] = []

    class Built:
        pk = 41

    def build_once_the_database_is_back(**kwargs: Any) -> Built:
        calls.append(Job.objects.get(pk=job.pk).status)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return Built()

    monkeypatch.setattr(tasks, "taxonomy_build_from_request", build_once_the_database_is_back)
    result = tasks.taxonomy_build_task.apply(
        kwargs={"build_key": job.ref, "request": {"name": "t"}, "user_id": None, "job_id": job.pk}
    )
    assert result.get() == 41
    # The second attempt found the job still active (retrying, not failed), so it ran under it and ended it done.
    assert calls == [JobStatus.RUNNING, JobStatus.RUNNING]
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.DONE, {"taxonomy": 41})
