"""Reconciliation: bring the database in line with Label Studio, project by project.

Every annotation Label Studio holds is upserted through the same intake as webhooks; what Label Studio no
longer has is marked deleted; a project deleted on the Label Studio side is marked and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from annotate.label_studio import LabelStudio, LabelStudioNotFoundError
from annotate.models import Annotation, LabelStudioProject, ProjectStatus
from annotate.services import blind
from annotate.services.intake import IntakeReport, annotations_mark_deleted, annotations_upsert
from annotate.services.push import project_mark_deleted


@dataclass
class ReconcileReport(IntakeReport):
    projects: int = 0
    deleted_projects: list[int] = field(default_factory=list)
    #: Projects whose labeling config was changed in Label Studio: their reviews were not read.
    drifted_projects: list[int] = field(default_factory=list)

    def merge(self, other: IntakeReport) -> None:
        super().merge(other)
        if isinstance(other, ReconcileReport):
            self.projects += other.projects
            self.deleted_projects += other.deleted_projects
            self.drifted_projects += other.drifted_projects


def project_reconcile(*, project_id: int, client: LabelStudio | None = None) -> ReconcileReport:
    """Bring the database in line with one Label Studio project: every annotation in, deleted ones marked.

    Annotations are exported in chunks of our mapped tasks (``LABEL_STUDIO_RECONCILE_CHUNK``), two requests in
    flight while the previous chunk is stored, so Label Studio's export and our bulk upserts overlap. When Label
    Studio counts more annotations than the chunks held (annotations on tasks we did not push), a full export
    finds and reports them.
    """
    project = LabelStudioProject.objects.select_related("annotator").get(pk=project_id)
    client = blind.project_client(project, client or LabelStudio.from_settings())
    report = ReconcileReport(projects=1)
    if project.label_studio_project_id is None or project.status == ProjectStatus.DELETED:
        return report
    ls_id = int(project.label_studio_project_id)
    try:
        drifted = blind.project_drift_check(project=project, client=client)
    except LabelStudioNotFoundError:
        drifted = False  # the export below finds the project gone and says so
    if drifted:
        report.drifted_projects.append(project.pk)
        report.problems.append(project.status_detail)
        return report
    mapped = sorted(
        int(t or 0)
        for t in project.tasks.exclude(label_studio_task_id=None).values_list("label_studio_task_id", flat=True)
    )
    seen: set[int] = set()
    chunk = settings.LABEL_STUDIO_RECONCILE_CHUNK
    try:
        expected = client.project_annotation_count(ls_id)
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(client.project_annotations, project_id=ls_id, task_ids=mapped[i : i + chunk])
                for i in range(0, len(mapped), chunk)
            ]
            try:
                for future in futures:
                    annotations = future.result()
                    seen.update(a.annotation_id for a in annotations)
                    report.merge(annotations_upsert(annotations=annotations))
            finally:
                for future in futures:
                    future.cancel()
        if expected > len(seen):
            extra = [a for a in client.project_annotations(project_id=ls_id) if a.annotation_id not in seen]
            seen.update(a.annotation_id for a in extra)
            report.merge(annotations_upsert(annotations=extra))
    except LabelStudioNotFoundError:
        project_mark_deleted(project_id=project.pk)
        report.deleted_projects.append(project.pk)
        report.problems.append(f"Label Studio project {ls_id} ({project.title!r}) was deleted at {client.url}")
        return report
    # Skipped (cancelled) annotations were handled by the upsert; what Label Studio no longer has is deleted.
    stored = Annotation.objects.filter(task__project=project, deleted=False)
    gone = set(stored.values_list("label_studio_annotation_id", flat=True)) - seen
    report.deleted += annotations_mark_deleted(annotation_ids=gone)
    project.last_reconciled_at = timezone.now()
    project.save(update_fields=["last_reconciled_at"])
    return report


def annotations_reconcile(
    *,
    sample_id: int | None = None,
    client: LabelStudio | None = None,
    on_project: Callable[[int, int], None] | None = None,
) -> ReconcileReport:
    """Reconcile every active project (of one sample, or of all samples); drifted ones are reported again.

    ``on_project`` is called after each project with the number of projects done and the number to do.
    """
    projects = LabelStudioProject.objects.filter(status__in=[ProjectStatus.ACTIVE, ProjectStatus.DRIFTED]).exclude(
        label_studio_project_id=None
    )
    if sample_id is not None:
        projects = projects.filter(sample_id=sample_id)
    project_ids = list(projects.order_by("pk").values_list("pk", flat=True))
    report = ReconcileReport()
    if not project_ids:  # nothing pushed yet: no need for a Label Studio at all
        return report
    client = client or LabelStudio.from_settings()
    for done, project_id in enumerate(project_ids, start=1):
        report.merge(project_reconcile(project_id=project_id, client=client))
        if on_project:
            on_project(done, len(project_ids))
    return report
