"""`python manage.py push_reviews SAMPLE_ID [--batch-size N] [--recreate-deleted]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotate import services
from annotate.label_studio import LabelStudioError
from annotate.models import LabelStudioTask


class Command(BaseCommand):
    help = (
        "Push a review sample's tasks (with the model's outputs as predictions) to Label Studio, in batches. "
        "Resumable: rerun after any failure; no task is ever created twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sample_id", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument(
            "--recreate-deleted", action="store_true", help="recreate projects deleted on the Label Studio side"
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        pending = LabelStudioTask.objects.filter(
            project__sample_id=opts["sample_id"], label_studio_task_id=None
        ).count()
        bar = tqdm(total=pending, unit=" task", desc="pushing", disable=opts["no_progress"] or opts["verbosity"] == 0)
        try:
            report = services.sample_push(
                sample_id=opts["sample_id"],
                batch_size=opts["batch_size"],
                recreate_deleted=opts["recreate_deleted"],
                on_batch=bar.update,
            )
        except (LabelStudioError, ValueError) as exc:
            raise CommandError(f"{exc}\nNothing is lost: rerun the command to resume.") from exc
        finally:
            bar.close()
        self.stdout.write(
            f"pushed {report.pushed} tasks, recovered {report.recovered}, {report.already} already there, "
            f"{len(report.projects)} projects"
        )
        if report.duplicates_in_label_studio:
            self.stdout.write(
                f"tasks in Label Studio that are not ours or duplicates: {report.duplicates_in_label_studio}"
            )
