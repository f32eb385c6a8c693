"""`python manage.py compare_prompts BASELINE CANDIDATE [--json] [--save]`: paired prompt comparison."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stats.errors import StatsInputError
from validation.management.commands._render import render_comparison, write_report
from validation.reports import ReportInputError
from validation.selectors import PromptSpecError, prompt_comparison
from validation.services import comparison_snapshot_create

SPEC_HELP = (
    "a prompt version id (42), SET/FEATURE@HASH (paper-v1/ai_values@3f2a9c, any unique hash prefix), "
    "SET/FEATURE, or a whole prompt SET (one version per feature; compared feature by feature)"
)


class Command(BaseCommand):
    help = (
        "Compare a baseline and a candidate prompt on the conversations reviewed under both: accuracies with "
        "Wilson intervals, exact McNemar with Holm correction across features, the accuracy difference with "
        "Newcombe's paired interval, a verdict, and the conversations whose outcome flipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("baseline", help=SPEC_HELP)
        parser.add_argument("candidate", help=SPEC_HELP)
        parser.add_argument("--model", help="only outputs of this model (needed when several were reviewed)")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--save", action="store_true", help="also save the comparison as a snapshot")
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--alpha", type=float, default=0.05, help="family-wise level for the Holm correction")

    def handle(self, *args: Any, **opts: Any) -> None:
        kwargs = {
            "baseline": opts["baseline"],
            "candidate": opts["candidate"],
            "model": opts["model"],
            "confidence": opts["confidence"],
            "alpha": opts["alpha"],
        }
        try:
            if opts["save"]:
                snapshot = comparison_snapshot_create(**kwargs)
                report, snapshot_id = snapshot.payload, snapshot.pk
            else:
                report, snapshot_id = prompt_comparison(**kwargs), None
        except (PromptSpecError, ReportInputError, StatsInputError) as exc:
            raise CommandError(f"{opts['baseline']} vs {opts['candidate']}: {exc}") from None
        write_report(self.stdout, report, snapshot_id, as_json=opts["json"], render=render_comparison)
