"""Value taxonomies: versioned trees over one feature's values, their review edits and value mappings.

The tables keep the names they had in the former ``analysis`` app (``db_table``), so no row moved."""

from __future__ import annotations

from django.conf import settings
from django.db import models

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
        db_table = "analysis_taxonomy"
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
        db_table = "analysis_taxonomynode"
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
        db_table = "analysis_taxonomyedit"
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
        db_table = "analysis_valuemapping"
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
