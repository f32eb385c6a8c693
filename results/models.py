"""Stored residual analyses and their reported cells.

The tables keep the names they had in the former ``analysis`` app (``db_table``), so no row moved."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# A stored residual analysis: its parameters, the summary (sizes, critical value, what the privacy threshold
# suppressed) and the reported cells (significant ones and each row's and column's strongest associations). Cells
# under the privacy threshold are never stored.


class ResidualAnalysis(models.Model):
    row_feature = models.CharField(max_length=32)
    col_feature = models.CharField(max_length=32)
    row_level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Taxonomy level of the rows.")
    col_level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Taxonomy level of the columns.")
    row_taxonomy = models.ForeignKey(
        "taxonomy.Taxonomy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    col_taxonomy = models.ForeignKey(
        "taxonomy.Taxonomy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dataset = models.ForeignKey(
        "corpus.Dataset", null=True, blank=True, on_delete=models.CASCADE, related_name="residual_analyses"
    )
    run = models.ForeignKey(
        "extraction.ExtractionRun", null=True, blank=True, on_delete=models.CASCADE, related_name="residual_analyses"
    )
    params = models.JSONField(default=dict, help_text="min_conversations, alpha, comparisons, top_k, ...")
    summary = models.JSONField(default=dict, help_text="Table size, critical value, suppressed counts, timings.")
    n_conversations = models.PositiveIntegerField(default=0)
    critical_value = models.FloatField(default=0.0)
    request_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="Set by a queued request, so a rerun is a no-op."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "analysis_residualanalysis"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"residuals {self.row_feature} x {self.col_feature} #{self.pk}"


class ResidualCell(models.Model):
    analysis = models.ForeignKey(ResidualAnalysis, on_delete=models.CASCADE, related_name="cells")
    row_label = models.CharField(max_length=500)
    col_label = models.CharField(max_length=500)
    observed = models.PositiveIntegerField()
    expected = models.FloatField()
    residual = models.FloatField()
    p_value = models.FloatField(help_text="Two-sided, normal approximation of the residual.")
    p_exact = models.FloatField(help_text="Two-sided exact (hypergeometric) p-value of the cell.")
    significant = models.BooleanField()
    odds_ratio = models.FloatField()
    or_low = models.FloatField()
    or_high = models.FloatField()
    or_corrected = models.BooleanField(help_text="Haldane-Anscombe: 0.5 added to the 2x2 table's four cells.")

    class Meta:
        db_table = "analysis_residualcell"
        constraints = [
            models.UniqueConstraint(fields=["analysis", "row_label", "col_label"], name="residualcell_unique_cell"),
        ]
        indexes = [models.Index(fields=["analysis", "-residual"]), models.Index(fields=["analysis", "row_label"])]

    def __str__(self) -> str:
        return f"{self.row_label} x {self.col_label}: {self.residual:.2f}"
