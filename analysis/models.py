"""Analysis results: value taxonomies and the analyses built on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

# ==================================================================================================== taxonomy
# A taxonomy is a versioned tree over one feature's values. Level 0 nodes are the values themselves; the level above
# are clusters of values, and so on up to the top categories. Builds and imports each create a new version; manual
# review edits (rename / merge / move) change a version in place and are logged in TaxonomyEdit.


class TaxonomySource(models.TextChoices):
    BUILT = "built", "Built by clustering"
    IMPORTED = "imported", "Imported from values_tree.csv"


class Taxonomy(models.Model):
    name = models.CharField(max_length=100, help_text='A family of versions, e.g. "ai-values".')
    version = models.PositiveIntegerField()
    feature = models.CharField(max_length=32, default="ai_values", help_text="The extraction feature it organises.")
    source = models.CharField(max_length=16, choices=TaxonomySource.choices)
    params = models.JSONField(default=dict, blank=True, help_text="Build parameters, or the imported file.")
    embedding_model = models.CharField(max_length=200, blank=True)
    names_are_fallback = models.BooleanField(
        default=False, help_text="Cluster names are their most central member: no LLM named them."
    )
    level_count = models.PositiveSmallIntegerField(default=0)
    stability = models.JSONField(default=dict, blank=True, help_text='{"seeds": [a, b], "ari_by_level": [...]}')
    build_seconds = models.FloatField(null=True, blank=True)
    notes = models.TextField(blank=True)
    build_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="Set by a queued build, so a rerun is a no-op."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="taxonomy_unique_version")]
        ordering = ["name", "-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class TaxonomyNode(models.Model):
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="nodes")
    key = models.CharField(max_length=500, help_text="cluster_id: the value itself at level 0.")
    level = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    size = models.PositiveIntegerField(default=1, help_text="Number of values (level 0 nodes) beneath, itself at 0.")
    pct_total_occurrences = models.FloatField(null=True, blank=True)
    name_is_fallback = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "key"], name="taxonomynode_unique_key"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="taxonomynode_not_own_parent"),
        ]
        indexes = [models.Index(fields=["taxonomy", "level"])]
        ordering = ["taxonomy", "-level", "name"]

    def __str__(self) -> str:
        return f"L{self.level} {self.name}"


class EditAction(models.TextChoices):
    RENAME = "rename", "Rename"
    MERGE = "merge", "Merge"
    MOVE = "move", "Move"


class TaxonomyEdit(models.Model):
    """One manual review edit; ``before`` / ``after`` hold what changed so the history reads on its own."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="edits")
    node = models.ForeignKey(TaxonomyNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="edits")
    action = models.CharField(max_length=16, choices=EditAction.choices)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} on {self.taxonomy_id}"


class MappingMethod(models.TextChoices):
    EXACT = "exact", "Exact (after normalisation)"
    NEAREST = "nearest", "Nearest neighbour above the threshold"
    UNMAPPED = "unmapped", "Unmapped"


class ValueMapping(models.Model):
    """Where an extracted value lands in a taxonomy (a level 0 node), or that it did not land anywhere."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="mappings")
    value = models.CharField(max_length=500)
    node = models.ForeignKey(TaxonomyNode, null=True, blank=True, on_delete=models.CASCADE, related_name="mapped")
    method = models.CharField(max_length=16, choices=MappingMethod.choices)
    similarity = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "value"], name="valuemapping_unique_value"),
            models.CheckConstraint(
                condition=models.Q(method="unmapped", node__isnull=True)
                | (~models.Q(method="unmapped") & models.Q(node__isnull=False)),
                name="valuemapping_node_iff_mapped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} -> {self.node_id or '-'} ({self.method})"


# ================================================================================================ end taxonomy


# =========================================================================================== residuals & descriptive
# A stored residual analysis: its parameters, the summary (sizes, critical value, what the privacy threshold
# suppressed) and the reported cells (significant ones and each row's and column's strongest associations). Cells
# under the privacy threshold are never stored.


class ResidualAnalysis(models.Model):
    row_feature = models.CharField(max_length=32)
    col_feature = models.CharField(max_length=32)
    row_level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Taxonomy level of the rows.")
    col_level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Taxonomy level of the columns.")
    row_taxonomy = models.ForeignKey(Taxonomy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    col_taxonomy = models.ForeignKey(Taxonomy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
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
        constraints = [
            models.UniqueConstraint(fields=["analysis", "row_label", "col_label"], name="residualcell_unique_cell"),
        ]
        indexes = [models.Index(fields=["analysis", "-residual"]), models.Index(fields=["analysis", "row_label"])]

    def __str__(self) -> str:
        return f"{self.row_label} x {self.col_label}: {self.residual:.2f}"


# ======================================================================================= end residuals & descriptive
