"""`python manage.py map_values TAXONOMY_ID (--values-file PATH | --feature ai_values) [--threshold 0.8]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from corpus.selectors import UnknownDatasetError, dataset_id_by_name
from taxonomy.embeddings import EmbeddingError
from taxonomy.models import Taxonomy
from taxonomy.selectors import extracted_value_counts
from taxonomy.services import taxonomy_map_values
from taxonomy.values import TaxonomyError, values_read_file


class Command(BaseCommand):
    help = (
        "Map values onto a taxonomy's values: exact after normalisation, then the nearest neighbour by embedding "
        "at or above the threshold. Stores the result and lists the unmapped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("taxonomy", type=int, help="taxonomy id")
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument("--values-file", help="CSV with a 'value' column, or one value per line")
        src.add_argument("--feature", help="map the parsed extractions of this feature")
        parser.add_argument("--column", default="value")
        parser.add_argument("--dataset", help="only this dataset (name)")
        parser.add_argument("--threshold", type=float, help="cosine similarity (default TAXONOMY_MAPPING_THRESHOLD)")
        parser.add_argument("--exact-only", action="store_true", help="no embeddings: exact matches only")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            taxonomy = Taxonomy.objects.get(pk=opts["taxonomy"])
        except Taxonomy.DoesNotExist:
            raise CommandError(f"no taxonomy with id {opts['taxonomy']}") from None
        try:
            if opts["values_file"]:
                values = values_read_file(opts["values_file"], column=opts["column"])
            else:
                values = list(
                    extracted_value_counts(feature=opts["feature"], dataset_id=dataset_id_by_name(opts["dataset"]))
                )
            result = taxonomy_map_values(
                taxonomy=taxonomy,
                values=values,
                threshold=opts["threshold"],
                use_embeddings=not opts["exact_only"],
            )
        except (TaxonomyError, EmbeddingError, UnknownDatasetError) as exc:
            raise CommandError(str(exc)) from exc
        counts = result.counts()
        self.stdout.write(
            f"{len(result.matches)} values onto {taxonomy}: exact {counts['exact']}, nearest {counts['nearest']} "
            f"(threshold {result.threshold}), unmapped {counts['unmapped']}"
        )
        for value in result.unmapped:
            self.stdout.write(f"  unmapped: {value}")
