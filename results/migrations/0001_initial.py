"""The residual analysis models, moved from the analysis app with their tables (db_table analysis_*): state only,
no SQL."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("analysis", "0005_residual_analysis_request_key"),
        ("corpus", "0001_initial"),
        ("extraction", "0003_batch_submitting"),
        ("taxonomy", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ResidualAnalysis",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("row_feature", models.CharField(max_length=32)),
                        ("col_feature", models.CharField(max_length=32)),
                        (
                            "row_level",
                            models.PositiveSmallIntegerField(
                                blank=True, help_text="Taxonomy level of the rows.", null=True
                            ),
                        ),
                        (
                            "col_level",
                            models.PositiveSmallIntegerField(
                                blank=True, help_text="Taxonomy level of the columns.", null=True
                            ),
                        ),
                        (
                            "params",
                            models.JSONField(
                                default=dict, help_text="min_conversations, alpha, comparisons, top_k, ..."
                            ),
                        ),
                        (
                            "summary",
                            models.JSONField(
                                default=dict, help_text="Table size, critical value, suppressed counts, timings."
                            ),
                        ),
                        ("n_conversations", models.PositiveIntegerField(default=0)),
                        ("critical_value", models.FloatField(default=0.0)),
                        (
                            "request_key",
                            models.CharField(
                                blank=True,
                                help_text="Set by a queued request, so a rerun is a no-op.",
                                max_length=64,
                                null=True,
                                unique=True,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "col_taxonomy",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="taxonomy.taxonomy",
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "dataset",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="residual_analyses",
                                to="corpus.dataset",
                            ),
                        ),
                        (
                            "row_taxonomy",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="taxonomy.taxonomy",
                            ),
                        ),
                        (
                            "run",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="residual_analyses",
                                to="extraction.extractionrun",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_residualanalysis",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="ResidualCell",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("row_label", models.CharField(max_length=500)),
                        ("col_label", models.CharField(max_length=500)),
                        ("observed", models.PositiveIntegerField()),
                        ("expected", models.FloatField()),
                        ("residual", models.FloatField()),
                        ("p_value", models.FloatField(help_text="Two-sided, normal approximation of the residual.")),
                        (
                            "p_exact",
                            models.FloatField(help_text="Two-sided exact (hypergeometric) p-value of the cell."),
                        ),
                        ("significant", models.BooleanField()),
                        ("odds_ratio", models.FloatField()),
                        ("or_low", models.FloatField()),
                        ("or_high", models.FloatField()),
                        (
                            "or_corrected",
                            models.BooleanField(help_text="Haldane-Anscombe: 0.5 added to the 2x2 table's four cells."),
                        ),
                        (
                            "analysis",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="cells",
                                to="results.residualanalysis",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "analysis_residualcell",
                        "indexes": [
                            models.Index(fields=["analysis", "-residual"], name="analysis_re_analysi_dcc1c4_idx"),
                            models.Index(fields=["analysis", "row_label"], name="analysis_re_analysi_3cf36f_idx"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("analysis", "row_label", "col_label"), name="residualcell_unique_cell"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
