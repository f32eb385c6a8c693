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


class TrustTarget(models.Model):
    """What a lead asks of a feature's agreement before its labels are trusted, e.g. "≥ 95% ± 5%".

    A row with no run is the project default for the feature; a row with a run overrides it for that run.
    The verdict itself is computed from the reviews (``validation.trust``), never stored."""

    feature = models.CharField(max_length=32)
    run = models.ForeignKey(
        "extraction.ExtractionRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="trust_targets",
        help_text="Empty: the project default for the feature.",
    )
    share = models.FloatField(help_text="Target share judged correct, 0-1 (0.95 for ≥ 95%).")
    half_width = models.FloatField(help_text="Largest acceptable interval half-width, 0-0.5 (0.05 for ± 5%).")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["feature", "run_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature"], condition=models.Q(run__isnull=True), name="trusttarget_one_default_per_feature"
            ),
            models.UniqueConstraint(
                fields=["feature", "run"], condition=models.Q(run__isnull=False), name="trusttarget_one_per_run"
            ),
            models.CheckConstraint(condition=models.Q(share__gt=0, share__lte=1), name="trusttarget_share_in_0_1"),
            models.CheckConstraint(
                condition=models.Q(half_width__gt=0, half_width__lte=0.5), name="trusttarget_half_width_in_0_half"
            ),
        ]

    def __str__(self) -> str:
        scope = f"run {self.run_id}" if self.run_id else "project default"
        return f"{self.feature}: ≥ {100 * self.share:.1f}% ± {100 * self.half_width:.1f}% ({scope})"
