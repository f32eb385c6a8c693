"""`python manage.py import_taxonomy PATH [--name NAME]`: a taxonomy in the published values_tree.csv format."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from taxonomy.selectors import taxonomy_level_counts
from taxonomy.services import taxonomy_import_tree
from taxonomy.values import TaxonomyError


class Command(BaseCommand):
    help = (
        "Import a reference taxonomy from a values_tree.csv (columns cluster_id, description, name, level, "
        "parent_cluster_id, pct_total_occurrences; level 0 = the values) as a new version. Atomic."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--name", default="values-in-the-wild", help="taxonomy name (default values-in-the-wild)")
        parser.add_argument("--feature", default="ai_values")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            taxonomy = taxonomy_import_tree(path=opts["path"], name=opts["name"], feature=opts["feature"])
        except TaxonomyError as exc:
            raise CommandError(f"{exc}\nNothing was imported.") from exc
        counts = taxonomy_level_counts(taxonomy=taxonomy)
        shape = " / ".join(f"{counts[lvl]:,}" for lvl in sorted(counts))
        self.stdout.write(f"imported {opts['path']} as {taxonomy.name} v{taxonomy.version} (id {taxonomy.pk}): {shape}")
