"""`python manage.py review_sample --run ID --strategy STRATEGY --size N …` (see annotate.sampling for the designs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate import services
from annotate.models import SampleStrategy


class Command(BaseCommand):
    help = (
        "Draw a review sample from an extraction run (seeded and recorded, so it can be reproduced) and assign "
        "each item to --per-item annotators, each in their own Label Studio project (blind review)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, required=True, help="extraction run id")
        parser.add_argument(
            "--strategy",
            choices=[s.value for s in SampleStrategy],
            default=SampleStrategy.RANDOM,
        )
        parser.add_argument("--size", type=int, help="number of conversations (not with target_width)")
        parser.add_argument(
            "--target-half-width", type=float, help="target_width: the interval half-width to reach, e.g. 0.05"
        )
        parser.add_argument(
            "--expected", type=float, default=0.95, help="target_width: the agreement you expect (default 0.95)"
        )
        parser.add_argument("--seed", type=int, help="random seed (drawn and recorded when absent)")
        parser.add_argument("--stratify-by", help="'model' or a feature, for --strategy stratified")
        parser.add_argument(
            "--min-per-stratum", type=int, help="stratified: at least this many per stratum (disproportionate)"
        )
        parser.add_argument(
            "--floor", type=float, help="uncertainty: the smallest selection score, so every output can be drawn"
        )
        parser.add_argument("--features", help="comma-separated features to review (default: all)")
        parser.add_argument("--annotators", required=True, help="comma-separated e-mails")
        parser.add_argument("--per-item", type=int, default=1, help="annotators per item (k)")
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        emails = [e.strip() for e in opts["annotators"].split(",") if e.strip()]
        if opts["strategy"] == SampleStrategy.TARGET_WIDTH:
            if opts["target_half_width"] is None or opts["size"] is not None:
                raise CommandError("--strategy target_width takes --target-half-width (and --expected), not --size")
        elif opts["size"] is None:
            raise CommandError(f"--strategy {opts['strategy']} needs --size")
        design = {
            k: opts[o] for k, o in (("min_per_stratum", "min_per_stratum"), ("floor", "floor")) if opts[o] is not None
        }
        try:
            sample = services.review_sample_create(
                run_id=opts["run"],
                strategy=opts["strategy"],
                size=opts["size"] or 0,
                seed=opts["seed"],
                stratify_by=opts["stratify_by"],
                features=[f.strip() for f in opts["features"].split(",")] if opts["features"] else None,
                reviewers_per_item=opts["per_item"],
                name=opts["name"],
                target_half_width=opts["target_half_width"],
                expected_agreement=opts["expected"],
                design=design or None,
            )
            annotators = [services.annotator_get_or_create(email=e).pk for e in emails]
            assigned = services.review_sample_assign(
                sample_id=sample.pk, annotator_ids=annotators, reviewers_per_item=opts["per_item"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"sample {sample.pk}: {sample.items.count()} conversations ({sample.strategy}, seed {sample.seed}), "
            f"{assigned} assignments over {len(annotators)} annotators"
        )
