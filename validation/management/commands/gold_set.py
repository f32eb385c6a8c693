"""`python manage.py gold_set create|import|export|list|score|rule-agreement`: gold sets from the command line."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from corpus.models import Dataset
from extraction.models import ExtractionRun
from stats.errors import StatsInputError
from validation import scores, selectors, services
from validation.models import GoldSetFrozenError


class Command(BaseCommand):
    help = (
        "Gold sets: create one from a run's reviews (strict majority, the rest left out and counted), import a "
        "team's own ground truth (JSONL or CSV), export one, list them, score a run or prompt spec against one, "
        "and report how often the scoring rule agrees with the reviewers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new frozen version from the reviews of a run")
        create.add_argument("--run", type=int, required=True, help="extraction run id whose reviews to take")
        create.add_argument("--name", required=True)
        create.add_argument("--features", nargs="*", help="default: every feature but task")
        create.add_argument("--description", default="")
        imp = sub.add_parser("import", help="a new frozen version from a .jsonl or .csv file")
        imp.add_argument("path")
        imp.add_argument("--name", required=True)
        imp.add_argument("--dataset", required=True, help="dataset name the conversation ids belong to")
        exp = sub.add_parser("export", help="print a gold set as JSONL or CSV")
        exp.add_argument("gold", help="id, NAME or NAME@VERSION")
        exp.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        sub.add_parser("list", help="every gold set with its counts")
        score = sub.add_parser("score", help="score a run or a prompt spec against a gold set")
        score.add_argument("gold", help="id, NAME or NAME@VERSION")
        group = score.add_mutually_exclusive_group(required=True)
        group.add_argument("--run", type=int)
        group.add_argument("--prompts", help="prompt spec: id, SET, SET/FEATURE[@HASH]")
        score.add_argument("--model")
        score.add_argument("--n-boot", type=int, default=1000)
        score.add_argument("--embeddings", action="store_true", help="soft match by embedding similarity too")
        agree = sub.add_parser("rule-agreement", help="how often the scoring rule agrees with the reviewers")
        agree.add_argument("gold", help="id, NAME or NAME@VERSION")
        agree.add_argument("--run", type=int, required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"].replace("-", "_"))(opts)
        except (
            services.GoldSetError,
            GoldSetFrozenError,
            selectors.GoldSetSpecError,
            selectors.PromptSpecError,
            StatsInputError,
        ) as exc:
            raise CommandError(str(exc)) from None

    def _create(self, opts: dict[str, Any]) -> None:
        gs = services.gold_set_create_from_reviews(
            name=opts["name"], run_id=opts["run"], features=opts["features"], description=opts["description"]
        )
        self._summary(gs.pk)

    def _import(self, opts: dict[str, Any]) -> None:
        dataset = Dataset.objects.filter(name=opts["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset named {opts['dataset']!r}")
        rows = services.gold_rows_read(opts["path"])
        gs = services.gold_set_import(name=opts["name"], dataset_id=dataset.pk, rows=rows)
        self._summary(gs.pk)

    def _export(self, opts: dict[str, Any]) -> None:
        gs = selectors.gold_set_resolve(spec=opts["gold"])
        self.stdout.write(selectors.gold_set_export(gold_set_id=gs.pk, fmt=opts["format"]), ending="")

    def _list(self, opts: dict[str, Any]) -> None:
        for gs in selectors.gold_set_list():
            self.stdout.write(
                f"{gs.pk:>4}  {gs.name} v{gs.version}  {gs.status:6}  {gs.origin:8}  "
                f"{gs.label_count} labels on {gs.conversation_count} conversations"  # type: ignore[attr-defined]
            )

    def _score(self, opts: dict[str, Any]) -> None:
        gs = selectors.gold_set_resolve(spec=opts["gold"])
        if opts["run"] is not None and not ExtractionRun.objects.filter(pk=opts["run"]).exists():
            raise CommandError(f"no extraction run with id {opts['run']}")
        report = scores.gold_score(
            gold_set_id=gs.pk,
            run_id=opts["run"],
            spec=opts["prompts"],
            model=opts["model"],
            n_boot=opts["n_boot"],
            embeddings=opts["embeddings"],
        )
        self.stdout.write(json.dumps(report, indent=1))

    def _rule_agreement(self, opts: dict[str, Any]) -> None:
        gs = selectors.gold_set_resolve(spec=opts["gold"])
        report = scores.rule_agreement(run_id=opts["run"], gold_set_id=gs.pk)
        for feature, r in report["features"].items():
            share = "–" if r["share"] is None else f"{100 * r['share']:.1f}%"
            self.stdout.write(f"{feature:16} {r['agree']}/{r['n']} agree ({share})")
        o = report["overall"]
        share = "–" if o["share"] is None else f"{100 * o['share']:.1f}%"
        self.stdout.write(f"{'overall':16} {o['agree']}/{o['n']} agree ({share}); rule: {report['rule']}")

    def _summary(self, gold_set_id: int) -> None:
        gs = selectors.gold_set_get(gold_set_id=gold_set_id)
        taken, left = gs.params.get("taken", {}), gs.params.get("left_out", {})
        adjudicated = gs.params.get("adjudicated", {})
        self.stdout.write(f"gold set {gs.name} v{gs.version} (id {gs.pk}), frozen; {gs.labels.count()} labels")
        for feature in gs.params.get("features", []):
            if feature in taken:
                self.stdout.write(
                    f"  {feature:16} {taken[feature]} taken ({adjudicated.get(feature, 0)} adjudicated),"
                    f" {left.get(feature, 0)} left out"
                )
