"""Queued work started over the API: one row per job, and at most one active (pending, running or retrying) job per
identical request.

The guarantee is the database's: a partial unique index on (kind, key) over the active statuses, so two requests that
race to start the same work cannot both insert (the second waits for the first to commit, then fails and is answered
with the first's job).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


#: The statuses under which a second identical request gets this job instead of a new one. A job whose task failed
#: with an error its task retries is still active: the retry is queued and will run it again.
ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.RETRYING)


class Job(models.Model):
    kind = models.CharField(max_length=40, help_text="what the job does, e.g. taxonomy_build, sample_push")
    key = models.CharField(max_length=64, help_text="SHA-256 of the request (kind and parameters), canonical JSON")
    ref = models.CharField(max_length=64, unique=True, help_text="the handle a client polls (build or request key)")
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=models.Q(status__in=["pending", "running", "retrying"]),
                name="job_one_active_per_request",
            ),
        ]
        indexes = [models.Index(fields=["kind", "key", "status"])]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.kind}, {self.status})"
