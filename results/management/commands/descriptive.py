"""`python manage.py descriptive [--run ID | --dataset NAME] [--min-conversations K] [--json]`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from corpus.selectors import UnknownDatasetError, dataset_id_by_name
from results.selectors import Scope, descriptive_results


class Command(BaseCommand):
    help = (
        "The paper's descriptive results for a run or dataset: value shares (Table 1), response types (Table 9), "
        "value pairs (Tables 4-5), mirroring (Tables 6-7), context-invariance (CV), stated values (B.6), models "
        "(B.5) and rare watch-list values for safety review."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--run", type=int, help="extraction run id")
        scope.add_argument("--dataset", help="dataset name")
        parser.add_argument("--min-conversations", type=int, help="privacy threshold k")
        parser.add_argument("--top", type=int, default=20)
        parser.add_argument("--all-conversations", action="store_true", help="do not keep only subjective ones")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            dataset_id = dataset_id_by_name(opts["dataset"])
        except UnknownDatasetError:
            raise CommandError(f"dataset {opts['dataset']!r} does not exist") from None
        tables = descriptive_results(
            scope=Scope(dataset_id=dataset_id, run_id=opts["run"]),
            min_conversations=opts["min_conversations"],
            top=opts["top"],
            subjective_only=not opts["all_conversations"],
        )
        if opts["json"]:
            self.stdout.write(json.dumps({k: t.to_dict() for k, t in tables.items()}, indent=1, default=str))
            return
        if not tables:
            self.stdout.write("no extracted features in scope")
        for key, table in tables.items():
            self.stdout.write(
                f"\n== {table.name} ({key}): {table.n_conversations} conversations, "
                f"k = {table.min_conversations}, {table.suppressed} suppressed"
            )
            for note in table.notes:
                self.stdout.write(f"note: {note}")
            self.stdout.write(table.table.to_string(index=False, max_rows=40) if len(table.table) else "(empty)")
