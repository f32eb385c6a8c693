"""`python manage.py build_taxonomy (--values-file PATH | --feature ai_values [--dataset ID]) [--name …] [...]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from corpus.selectors import UnknownDatasetError, dataset_id_by_name
from taxonomy.embeddings import EmbeddingError
from taxonomy.naming import NamingError
from taxonomy.requests import TaxonomyBuildRequest
from taxonomy.selectors import taxonomy_level_counts
from taxonomy.services import taxonomy_build_from_request
from taxonomy.values import TaxonomyError, values_read_file


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise CommandError(f"--sizes expects comma-separated integers such as 266,26,5 (got {text!r})") from None


class Command(BaseCommand):
    help = (
        "Build a value taxonomy by hierarchical k-means clustering of embedded values (the paper's Appendix A.6) "
        "and store it as a new version. Embeddings are computed offline and cached per value."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument("--values-file", help="CSV with a 'value' column, or one value per line")
        src.add_argument("--feature", help="build from the parsed extractions of this feature, e.g. ai_values")
        parser.add_argument("--column", default="value", help="CSV column holding the values (default: value)")
        parser.add_argument("--dataset", help="with --feature: only this dataset (name)")
        parser.add_argument("--name", default="ai-values", help="taxonomy name; each build is a new version")
        parser.add_argument("--levels", type=int, default=4, help="levels including the values (default 4)")
        parser.add_argument("--top", type=int, default=5, help="top-level clusters (default 5)")
        parser.add_argument("--sizes", type=_sizes, help="explicit sizes of levels 1.. e.g. 266,26,5")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--neighbourhood-size", type=int, default=40)
        parser.add_argument("--stability-seed", type=int, help="second seed for the ARI figure (default: seed+1)")
        parser.add_argument("--no-stability", action="store_true", help="skip the second build")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            build = TaxonomyBuildRequest(
                name=opts["name"],
                feature=opts["feature"] or "ai_values",
                dataset_id=None if opts["values_file"] else dataset_id_by_name(opts["dataset"]),
                levels=opts["levels"],
                top=opts["top"],
                sizes=opts["sizes"],
                seed=opts["seed"],
                neighbourhood_size=opts["neighbourhood_size"],
                stability=not opts["no_stability"],
                stability_seed=opts["stability_seed"],
            )
            values = values_read_file(opts["values_file"], column=opts["column"]) if opts["values_file"] else None
            params = build.params()
            stability_seed = build.second_seed()
            quiet = opts["no_progress"] or opts["verbosity"] == 0
            bar = tqdm(total=params.levels + (1 if stability_seed is not None else 0), disable=quiet, desc="taxonomy")

            def step(message: str) -> None:
                bar.set_postfix_str(message)
                bar.update(1)

            try:
                taxonomy = taxonomy_build_from_request(request=build, values=values, progress=step)
            finally:
                bar.close()
        except (TaxonomyError, EmbeddingError, NamingError, UnknownDatasetError) as exc:
            raise CommandError(f"{exc}\nNo taxonomy was stored.") from exc
        counts = taxonomy_level_counts(taxonomy=taxonomy)
        shape = " -> ".join(str(counts[lvl]) for lvl in sorted(counts))
        self.stdout.write(
            f"taxonomy {taxonomy.name} v{taxonomy.version} (id {taxonomy.pk}): {shape} "
            f"in {taxonomy.build_seconds:.1f} s, embeddings {taxonomy.embedding_model}"
        )
        if taxonomy.stability:
            aris = ", ".join(f"L{i + 1} {v:.3f}" for i, v in enumerate(taxonomy.stability["ari_by_level"]))
            self.stdout.write(f"stability (ARI, seeds {taxonomy.stability['seeds']}): {aris}")
        if taxonomy.names_are_fallback:
            self.stdout.write(
                "cluster names are fallbacks (each cluster's most central member): set TAXONOMY_NAMER to name them "
                "with a language model, or rename them in review"
            )
