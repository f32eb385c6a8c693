"""`python manage.py push_reviews SAMPLE_ID [--batch-size N] [--recreate-deleted] [--restore-config]`."""

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
        "Resumable: rerun after any failure; no task is ever created twice. On the Label Studio the app manages, "
        "each reviewer first gets an account and an organization of their own; new logins are printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sample_id", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument(
            "--recreate-deleted", action="store_true", help="recreate projects deleted on the Label Studio side"
        )
        parser.add_argument(
            "--restore-config",
            action="store_true",
            help="put the app's labeling config back into projects whose config was changed in Label Studio",
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
                restore_config=opts["restore_config"],
                on_batch=bar.update,
            )
        except (LabelStudioError, ValueError) as exc:
            raise CommandError(f"{exc}\nNothing is lost: rerun the command to resume.") from exc
        finally:
            bar.close()
        for email, password in sorted(report.new_logins.items()):
            self.stdout.write(f"new Label Studio login for {email}: {password} (shown once: hand it over now)")
        self.stdout.write(
            f"pushed {report.pushed} tasks, recovered {report.recovered}, {report.already} already there, "
            f"{len(report.projects)} projects"
        )
        if report.drifted:
            self.stderr.write(
                f"warning: {len(report.drifted)} project(s) had their labeling config changed in Label Studio and "
                "got nothing; check them, then rerun with --restore-config"
            )
        if report.not_independent:
            self.stderr.write(
                f"warning: reviews not independent: {len(report.not_independent)} project(s) can be opened by every "
                "reviewer (a Label Studio the app does not manage)"
            )
        if report.duplicates_in_label_studio:
            self.stdout.write(
                f"tasks in Label Studio that are not ours or duplicates: {report.duplicates_in_label_studio}"
            )
