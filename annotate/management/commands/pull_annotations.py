"""`python manage.py pull_annotations [--sample ID]`: reconcile with Label Studio now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotate import services
from annotate.label_studio import LabelStudio, LabelStudioError
from annotate.models import LabelStudioProject, ProjectStatus


class Command(BaseCommand):
    help = (
        "Pull every annotation from Label Studio and bring the database in line: new and changed annotations in, "
        "deleted ones marked, annotations on unknown tasks and deleted projects reported. Safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, help="only this review sample")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        projects = LabelStudioProject.objects.filter(status=ProjectStatus.ACTIVE).exclude(label_studio_project_id=None)
        if opts["sample"] is not None:
            projects = projects.filter(sample_id=opts["sample"])
        total = services.ReconcileReport()
        try:
            client = LabelStudio.from_settings()
            for project_id in tqdm(
                list(projects.order_by("pk").values_list("pk", flat=True)),
                unit=" project",
                desc="pulling",
                disable=opts["no_progress"] or opts["verbosity"] == 0,
            ):
                part = services.project_reconcile(project_id=project_id, client=client)
                total.merge(part)
                total.projects += part.projects
                total.deleted_projects += part.deleted_projects
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
