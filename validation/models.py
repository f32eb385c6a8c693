"""Saved validation reports, so leads can follow agreement and reliability over time.

A snapshot freezes one computed report (its JSON payload and the parameters it was computed with). An
agreement snapshot belongs to an extraction run; a comparison snapshot names its baseline and candidate
prompt versions (the first of each pair when whole prompt sets were compared).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SnapshotKind(models.TextChoices):
    AGREEMENT = "agreement", "Agreement report"
    COMPARISON = "comparison", "Prompt comparison"


class ReportSnapshot(models.Model):
    kind = models.CharField(max_length=16, choices=SnapshotKind.choices)
    run = models.ForeignKey(
        "extraction.ExtractionRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="validation_snapshots",
    )
    baseline = models.CharField(max_length=300, blank=True, help_text="Comparison: the baseline prompt spec.")
    candidate = models.CharField(max_length=300, blank=True, help_text="Comparison: the candidate prompt spec.")
    params = models.JSONField(default=dict, help_text="confidence, n_boot, seed, target half-width, ...")
    payload = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "run", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="agreement", run__isnull=False)
                    | (models.Q(kind="comparison") & ~models.Q(baseline="") & ~models.Q(candidate=""))
                ),
                name="reportsnapshot_kind_has_subject",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == SnapshotKind.AGREEMENT:
            subject = f"run {self.run_id}"
        else:
            subject = f"{self.baseline} vs {self.candidate}"
        return f"{self.get_kind_display()} of {subject} at {self.created_at:%Y-%m-%d %H:%M}"
