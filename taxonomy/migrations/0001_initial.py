"""The taxonomy models, moved from the analysis app with their tables (db_table analysis_*): state only, no SQL."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("analysis", "0005_residual_analysis_request_key"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Taxonomy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(help_text='A family of versions, e.g. "ai-values".', max_length=100)),
                        ("version", models.PositiveIntegerField()),
                        (
                            "feature",
                            models.CharField(
                                default="ai_values", help_text="The extraction feature it organises.", max_length=32
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("built", "Built by clustering"),
                                    ("imported", "Imported from values_tree.csv"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "params",
                            models.JSONField(
                                blank=True, default=dict, help_text="Build parameters, or the imported file."
                            ),
                        ),
                        ("embedding_model", models.CharField(blank=True, max_length=200)),
                        (
                            "names_are_fallback",
                            models.BooleanField(
                                default=False,
                                help_text="Cluster names are their most central member: no LLM named them.",
                            ),
                        ),
                        ("level_count", models.PositiveSmallIntegerField(default=0)),
                        (
                            "stability",
                            models.JSONField(
                                blank=True, default=dict, help_text='{"seeds": [a, b], "ari_by_level": [...]}'
                            ),
                        ),
                        ("build_seconds", models.FloatField(blank=True, null=True)),
                        ("notes", models.TextField(blank=True)),
                        (
                            "build_key",
                            models.CharField(
                                blank=True,
                                help_text="Set by a queued build, so a rerun is a no-op.",
                                max_length=64,
                                null=True,
                                unique=True,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_taxonomy",
                        "ordering": ["name", "-version"],
                    },
                ),
                migrations.CreateModel(
                    name="TaxonomyNode",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("key", models.CharField(help_text="cluster_id: the value itself at level 0.", max_length=500)),
                        ("level", models.PositiveSmallIntegerField()),
                        ("name", models.CharField(max_length=500)),
                        ("description", models.TextField(blank=True)),
                        (
                            "size",
                            models.PositiveIntegerField(
                                default=1, help_text="Number of values (level 0 nodes) beneath, itself at 0."
                            ),
                        ),
                        ("pct_total_occurrences", models.FloatField(blank=True, null=True)),
                        ("name_is_fallback", models.BooleanField(default=False)),
                        (
                            "parent",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="children",
                                to="taxonomy.taxonomynode",
                            ),
                        ),
                        (
                            "taxonomy",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="nodes",
                                to="taxonomy.taxonomy",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_taxonomynode",
                        "ordering": ["taxonomy", "-level", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="TaxonomyEdit",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
                                choices=[("rename", "Rename"), ("merge", "Merge"), ("move", "Move")], max_length=16
                            ),
                        ),
                        ("before", models.JSONField(default=dict)),
                        ("after", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "taxonomy",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="edits",
                                to="taxonomy.taxonomy",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "node",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="edits",
                                to="taxonomy.taxonomynode",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_taxonomyedit",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="ValueMapping",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("value", models.CharField(max_length=500)),
                        (
                            "method",
                            models.CharField(
                                choices=[
                                    ("exact", "Exact (after normalisation)"),
                                    ("nearest", "Nearest neighbour above the threshold"),
                                    ("unmapped", "Unmapped"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("similarity", models.FloatField(blank=True, null=True)),
                        ("threshold", models.FloatField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "node",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="mapped",
                                to="taxonomy.taxonomynode",
                            ),
                        ),
                        (
                            "taxonomy",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="mappings",
                                to="taxonomy.taxonomy",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_valuemapping",
                    },
                ),
                migrations.AddConstraint(
                    model_name="taxonomy",
                    constraint=models.UniqueConstraint(fields=("name", "version"), name="taxonomy_unique_version"),
                ),
                migrations.AddIndex(
                    model_name="taxonomynode",
                    index=models.Index(fields=["taxonomy", "level"], name="analysis_ta_taxonom_4d725c_idx"),
                ),
                migrations.AddConstraint(
                    model_name="taxonomynode",
                    constraint=models.UniqueConstraint(fields=("taxonomy", "key"), name="taxonomynode_unique_key"),
                ),
                migrations.AddConstraint(
                    model_name="taxonomynode",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("parent", models.F("id")), _negated=True),
                        name="taxonomynode_not_own_parent",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="valuemapping",
                    constraint=models.UniqueConstraint(fields=("taxonomy", "value"), name="valuemapping_unique_value"),
                ),
                migrations.AddConstraint(
                    model_name="valuemapping",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("method", "unmapped"), ("node__isnull", True)),
                            models.Q(models.Q(("method", "unmapped"), _negated=True), ("node__isnull", False)),
                            _connector="OR",
                        ),
                        name="valuemapping_node_iff_mapped",
                    ),
                ),
            ],
        ),
    ]
