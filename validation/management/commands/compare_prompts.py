"""`python manage.py compare_prompts BASELINE CANDIDATE [--gold SPEC | --reviews] [--json] [--save]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from stats.errors import StatsInputError
from validation.management.commands._render import render_comparison, write_report
from validation.reports import ReportInputError
from validation.scoring import DEFAULT_SIMILARITY, DEFAULT_VALUE_THRESHOLD
from validation.selectors import GoldSetSpecError, PromptSpecError, gold_set_list
from validation.services import comparison_snapshot_create
from validation.services.snapshots import comparison_payload

SPEC_HELP = (
    "a prompt version id (42), SET/FEATURE@HASH (paper-v1/ai_values@3f2a9c, any unique hash prefix), "
    "SET/FEATURE, or a whole prompt SET (compared feature by feature; a fused prompt on each feature it produced)"
)


class Command(BaseCommand):
    help = (
        "Compare a baseline and a candidate prompt (or model) feature by feature on a gold set: per-conversation "
        "correctness by the stated rule, exact McNemar with Holm across features, paired bootstrap intervals for "
        "the difference in F1 and Jaccard, a verdict, and the flipped conversations with both outputs and the gold. "
        "With --reviews (the confirmation step), on the conversations people reviewed under both instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("baseline", help=SPEC_HELP)
        parser.add_argument("candidate", help=SPEC_HELP)
        parser.add_argument("--gold", help="gold set: id, NAME or NAME@VERSION (default: the newest frozen one)")
        parser.add_argument(
            "--reviews", action="store_true", help="compare on human reviews of both instead of a gold set"
        )
        parser.add_argument("--model", help="only outputs of this model, on both sides")
        parser.add_argument("--baseline-model", help="the baseline's model (to compare models)")
        parser.add_argument("--candidate-model", help="the candidate's model (to compare models)")
        parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap draws for the F1/Jaccard intervals")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--embeddings", action="store_true", help="soft match by embedding similarity too")
        parser.add_argument("--similarity", type=float, default=DEFAULT_SIMILARITY, help="cosine threshold")
        parser.add_argument("--value-threshold", type=float, default=DEFAULT_VALUE_THRESHOLD)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--save", action="store_true", help="also save the comparison as a snapshot")
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--alpha", type=float, default=0.05, help="family-wise level for the Holm correction")

    def handle(self, *args: Any, **opts: Any) -> None:
        reviews = opts["reviews"] or (opts["gold"] is None and not gold_set_list().filter(status="frozen").exists())
        kwargs: dict[str, Any] = {
            "baseline": opts["baseline"],
            "candidate": opts["candidate"],
            "confidence": opts["confidence"],
            "alpha": opts["alpha"],
        }
        if reviews:
            kwargs["model"] = opts["model"]
        else:
            kwargs["gold"] = opts["gold"] or ""
            kwargs["options"] = {
                "baseline_model": opts["baseline_model"] or opts["model"],
                "candidate_model": opts["candidate_model"] or opts["model"],
                "n_boot": opts["n_boot"],
                "seed": opts["seed"],
                "embeddings": opts["embeddings"],
                "similarity": opts["similarity"],
                "value_threshold": opts["value_threshold"],
            }
        try:
            if opts["save"]:
                snapshot = comparison_snapshot_create(**kwargs)
                report, snapshot_id = snapshot.payload, snapshot.pk
            else:
                report, snapshot_id = comparison_payload(**kwargs), None
        except (PromptSpecError, GoldSetSpecError, ReportInputError, StatsInputError) as exc:
            raise CommandError(f"{opts['baseline']} vs {opts['candidate']}: {exc}") from None
        if reviews and not opts["reviews"] and not opts["json"]:
            self.stdout.write("No gold set yet: compared on the conversations reviewed under both.")
        write_report(self.stdout, report, snapshot_id, as_json=opts["json"], render=render_comparison)
