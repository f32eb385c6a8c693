"""The analysis models now belong to the taxonomy and results apps, which took over their tables: they leave the
state of this app only; no table is dropped and no row moves."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("taxonomy", "0001_initial"),
        ("results", "0001_initial"),
        ("analysis", "0005_residual_analysis_request_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name="residualcell",
                    name="analysis",
                ),
                migrations.RemoveField(
                    model_name="taxonomy",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="valuemapping",
                    name="taxonomy",
                ),
                migrations.RemoveField(
                    model_name="taxonomyedit",
                    name="taxonomy",
                ),
                migrations.RemoveField(
                    model_name="taxonomynode",
                    name="taxonomy",
                ),
                migrations.RemoveField(
                    model_name="taxonomyedit",
                    name="node",
                ),
                migrations.RemoveField(
                    model_name="taxonomyedit",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="taxonomynode",
                    name="parent",
                ),
                migrations.RemoveField(
                    model_name="valuemapping",
                    name="node",
                ),
                migrations.DeleteModel(
                    name="ResidualAnalysis",
                ),
                migrations.DeleteModel(
                    name="ResidualCell",
                ),
                migrations.DeleteModel(
                    name="Taxonomy",
                ),
                migrations.DeleteModel(
                    name="TaxonomyEdit",
                ),
                migrations.DeleteModel(
                    name="TaxonomyNode",
                ),
                migrations.DeleteModel(
                    name="ValueMapping",
                ),
            ],
        ),
    ]
