"""`python manage.py extraction_report RUN_ID [--json]`: a run's status, cost, and the items that failed and why."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from extraction import selectors
from extraction.management.commands._report import report_lines
from extraction.models import ExtractionRun


class Command(BaseCommand):
    help = "Report on an extraction run: progress, tokens and cost (per 1,000 conversations), failures and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--json", action="store_true", help="the report as JSON")
        parser.add_argument("--failures", type=int, default=200, help="list at most this many failed items")

    def handle(self, *args: Any, **opts: Any) -> None:
        run = ExtractionRun.objects.select_related("dataset").filter(pk=opts["run_id"]).first()
        if run is None:
            raise CommandError(f"no extraction run {opts['run_id']}")
        report = selectors.run_report(run=run, failure_limit=opts["failures"])
        if opts["json"]:
            self.stdout.write(json.dumps(report, default=str, indent=2))
            return
        for line in report_lines(report):
            self.stdout.write(line)
