"""`python manage.py agreement --run ID [--json] [--save]`: the agreement report of a run's reviews."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from stats.errors import StatsInputError
from validation.management.commands._render import render_agreement, write_report
from validation.reports import REPORT_STEPS
from validation.selectors import RunNotFoundError, agreement_report_for_run
from validation.services import agreement_snapshot_create


class Command(BaseCommand):
    help = (
        "Agreement of machine labels with reviewers for an extraction run: share judged correct with 95% Wilson "
        "intervals per feature, prompt version, model, annotator and stratum; label agreement (exact, Jaccard, "
        "MASI); response-type confusion; reliability among reviewers (alpha, kappas, AC1 with bootstrap intervals)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, required=True, help="extraction run id")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--save", action="store_true", help="also save the report as a snapshot")
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap draws (0: no intervals)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--target-half-width", type=float, default=0.05, help="for 'more reviews needed' (default 0.05 = ±5%%)"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        bar = tqdm(total=REPORT_STEPS, desc="report", disable=opts["no_progress"] or opts["json"])
        kwargs = {
            "run_id": opts["run"],
            "confidence": opts["confidence"],
            "n_boot": opts["n_boot"],
            "seed": opts["seed"],
            "target_half_width": opts["target_half_width"],
            "on_step": lambda name: bar.update(1),
        }
        try:
            if opts["save"]:
                snapshot = agreement_snapshot_create(**kwargs)
                report, snapshot_id = snapshot.payload, snapshot.pk
            else:
                report, snapshot_id = agreement_report_for_run(**kwargs), None
        except (RunNotFoundError, StatsInputError) as exc:
            raise CommandError(f"run {opts['run']}: {exc}") from None
        finally:
            bar.close()
        write_report(self.stdout, report, snapshot_id, as_json=opts["json"], render=render_agreement)
