"""A GIN index on the extracted labels (PostgreSQL only), so that "conversations with this label" is an index lookup
rather than a scan of every extraction (the dataset page's label filter: 1.85 million rows at the paper's scale)."""

from django.db import migrations

INDEX = "extraction_labels_gin"


def create(apps: object, schema_editor: object) -> None:
    if schema_editor.connection.vendor == "postgresql":  # type: ignore[attr-defined]
        schema_editor.execute(  # type: ignore[attr-defined]
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON extraction_extraction USING gin (labels jsonb_path_ops)"
        )


def drop(apps: object, schema_editor: object) -> None:
    if schema_editor.connection.vendor == "postgresql":  # type: ignore[attr-defined]
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")  # type: ignore[attr-defined]


class Migration(migrations.Migration):
    dependencies = [("extraction", "0003_batch_submitting")]

    operations = [migrations.RunPython(create, drop)]
