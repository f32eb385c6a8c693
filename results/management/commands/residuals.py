"""`python manage.py residuals --rows ai_values --cols task [--level N] [--run ID | --dataset NAME] [--json|--csv]`."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from corpus.selectors import UnknownDatasetError, dataset_id_by_name
from extraction.models import Feature
from results.models import ResidualAnalysis
from results.requests import ResidualRequest
from results.selectors import residual_cells
from results.services import CELL_COLUMNS, AnalysisRequestError, residual_analysis_create


class Command(BaseCommand):
    help = (
        "Chi-square analysis with adjusted Pearson residuals between two extracted features (the paper's "
        "Appendix A.7), stored as a residual analysis. Prints the significant associations, or every reported cell "
        "with --json / --csv."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", required=True, choices=Feature.values)
        parser.add_argument("--cols", required=True, choices=Feature.values)
        parser.add_argument("--level", type=int, help="taxonomy level of the rows (0 = the values themselves)")
        parser.add_argument("--col-level", type=int, help="taxonomy level of the columns")
        parser.add_argument("--taxonomy", type=int, help="taxonomy id for --level (default: the newest of the feature)")
        parser.add_argument("--col-taxonomy", type=int, help="taxonomy id for --col-level")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--run", type=int, help="extraction run id")
        scope.add_argument("--dataset", help="dataset name")
        parser.add_argument(
            "--min-conversations",
            type=int,
            help="privacy threshold k (default: the ANALYSIS_MIN_CONVERSATIONS setting)",
        )
        parser.add_argument("--alpha", type=float, default=0.05)
        parser.add_argument(
            "--comparisons",
            choices=["rows", "cols", "cells"],
            default="rows",
            help="Bonferroni family: rows = the paper's (m = number of row values), cells = the whole table",
        )
        parser.add_argument("--top", type=int, default=10, help="associations kept per row and column")
        parser.add_argument(
            "--all-conversations", action="store_true", help="do not restrict to conversations judged subjective"
        )
        parser.add_argument("--include-none", action="store_true", help='count "none" as a human value')
        out = parser.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true", help="summary and reported cells as JSON")
        out.add_argument("--csv", action="store_true", help="reported cells as CSV")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            dataset_id = dataset_id_by_name(opts["dataset"])
        except UnknownDatasetError:
            raise CommandError(f"dataset {opts['dataset']!r} does not exist (see /api/corpus/datasets/)") from None
        quiet = opts["no_progress"] or opts["verbosity"] == 0
        bar = tqdm(total=3, desc="residuals", unit="step", disable=quiet, file=sys.stderr)

        def step(message: str) -> None:
            bar.set_postfix_str(message)
            if bar.n < bar.total:
                bar.update(1)

        try:
            analysis = residual_analysis_create(
                request=ResidualRequest(
                    rows=opts["rows"],
                    cols=opts["cols"],
                    dataset_id=dataset_id,
                    run_id=opts["run"],
                    row_level=opts["level"],
                    col_level=opts["col_level"],
                    row_taxonomy_id=opts["taxonomy"],
                    col_taxonomy_id=opts["col_taxonomy"],
                    min_conversations=opts["min_conversations"],
                    alpha=opts["alpha"],
                    comparisons=opts["comparisons"],
                    top_k=opts["top"],
                    subjective_only=not opts["all_conversations"],
                    include_none=opts["include_none"],
                ),
                on_progress=step,
            )
        except AnalysisRequestError as exc:
            raise CommandError(f"{exc}\nNothing was stored.") from exc
        finally:
            bar.close()
        if opts["json"]:
            self._json(analysis)
        elif opts["csv"]:
            self._csv(analysis)
        else:
            self._text(analysis)

    def _rows(self, analysis: ResidualAnalysis) -> list[dict[str, Any]]:
        return list(residual_cells(analysis=analysis).values(*CELL_COLUMNS))

    def _json(self, analysis: ResidualAnalysis) -> None:
        payload = {"id": analysis.pk, "summary": analysis.summary, "cells": self._rows(analysis)}
        self.stdout.write(json.dumps(payload, indent=1, default=float))

    def _csv(self, analysis: ResidualAnalysis) -> None:
        import csv

        writer = csv.DictWriter(self.stdout, fieldnames=list(CELL_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows(analysis))

    def _text(self, analysis: ResidualAnalysis) -> None:
        s = analysis.summary
        self.stdout.write(
            f"residual analysis {analysis.pk}: {s['row_feature']} x {s['col_feature']}, {s['rows']} x {s['cols']} "
            f"from {s['n_conversations']} conversations; critical value {s['critical_value']:.2f} "
            f"(m = {s['m']}, {s['comparisons']}); {s['significant_cells']} significant cell(s)"
        )
        self.stdout.write(
            f"privacy threshold k = {s['min_conversations']}: {s['suppressed_rows']} row value(s), "
            f"{s['suppressed_cols']} column value(s) and {s['suppressed_cells']} cell(s) suppressed"
        )
        for note in s.get("notes", []):
            self.stdout.write(f"note: {note}")
        for cell in residual_cells(analysis=analysis, significant=True)[:30]:
            self.stdout.write(
                f"  {cell.residual:8.2f}  {cell.row_label}  x  {cell.col_label}  "
                f"(observed {cell.observed}, expected {cell.expected:.1f}, OR {cell.odds_ratio:.2f} "
                f"[{cell.or_low:.2f}, {cell.or_high:.2f}])"
            )
