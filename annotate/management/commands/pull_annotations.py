"""`python manage.py pull_annotations [--sample ID]`: reconcile with Label Studio now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotate import services
from annotate.label_studio import LabelStudioError


class Command(BaseCommand):
    help = (
        "Pull every annotation from Label Studio and bring the database in line: new and changed annotations in, "
        "deleted ones marked, annotations on unknown tasks and deleted projects reported. Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, help="only this review sample")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        with tqdm(unit=" project", desc="pulling", disable=opts["no_progress"] or opts["verbosity"] == 0) as bar:

            def advance(done: int, total: int) -> None:
                bar.total = total
                bar.update(1)

            try:
                total = services.annotations_reconcile(sample_id=opts["sample"], on_project=advance)
            except LabelStudioError as exc:
                raise CommandError(f"{exc}\nNothing is lost: rerun the command when Label Studio is back.") from exc
        self.stdout.write(
            f"{total.projects} projects: {total.created} annotations new, {total.updated} updated, "
            f"{total.unchanged} unchanged, {total.deleted} rows marked deleted"
        )
        for problem in total.problems:
            self.stderr.write(f"warning: {problem}")
        if total.unknown_tasks:
            self.stderr.write(f"warning: annotations on tasks we did not push: {sorted(set(total.unknown_tasks))}")
