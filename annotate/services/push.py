"""Pushing a sample to Label Studio: one project per annotator, ensured, and its tasks imported in batches.

Idempotence is carried by the database: a task is mapped once per (project, item) and once per Label
Studio task id. A push can be rerun after a crash: tasks Label Studio created without us recording them
are found by the item id in their data and mapped instead of imported again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotate import instructions, labeling_config
from annotate.label_studio import LabelStudio, LabelStudioError, iter_batches
from annotate.local_server import LocalLabelStudio, LocalLabelStudioError
from annotate.models import LabelStudioProject, LabelStudioTask, ProjectStatus, ReviewItem, ReviewSample
from annotate.services import blind
from annotate.webhook_auth import project_secret
from extraction.models import Extraction, ExtractionStatus, Feature

logger = logging.getLogger(__name__)


class ProjectDeletedError(LabelStudioError):
    """The annotator's Label Studio project was deleted on the Label Studio side."""


@dataclass
class PushReport:
    pushed: int = 0
    recovered: int = 0
    already: int = 0
    duplicates_in_label_studio: list[int] = field(default_factory=list)
    projects: dict[int, int] = field(default_factory=dict)
    #: Projects whose labeling config was changed in Label Studio: nothing pushed into them.
    drifted: list[int] = field(default_factory=list)
    #: Projects other reviewers can open (a Label Studio the app does not manage).
    not_independent: list[int] = field(default_factory=list)
    #: Label Studio logins (e-mail -> password) of reviewer accounts created by this push; shown once.
    new_logins: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class _Form:
    """What every project of a sample shows: the labeling config and the instruction dialog."""

    label_config: str
    instructions: str


def _sample_features(sample: ReviewSample) -> list[str]:
    return list(sample.params.get("features") or sorted(Feature.values))


def _model_version(sample: ReviewSample, features: Sequence[str]) -> str:
    hashes: dict[str, set[str]] = defaultdict(set)
    for feature, content_hash in (
        Extraction.objects.filter(run_id=sample.run_id, feature__in=features)
        .values_list("feature", "prompt_version__content_hash")
        .distinct()
    ):
        hashes[feature].add(content_hash)
    return labeling_config.model_version({f: "+".join(sorted(h)) for f, h in hashes.items()}, sample.run.prompt_set)


def _tasks_payload(
    sample: ReviewSample,
    links: Sequence[LabelStudioTask],
    features: Sequence[str],
    version: str,
    taxonomy: labeling_config.Taxonomy | None,
) -> list[dict[str, Any]]:
    items = {
        i.pk: i for i in ReviewItem.objects.filter(pk__in=[t.item_id for t in links]).select_related("conversation")
    }
    outputs: dict[int, list[labeling_config.FeatureOutput]] = defaultdict(list)
    for ex in Extraction.objects.filter(
        run_id=sample.run_id,
        conversation_id__in={i.conversation_id for i in items.values()},
        feature__in=features,
        status=ExtractionStatus.OK,
    ).only("pk", "conversation_id", "feature", "labels", "thinking"):
        outputs[ex.conversation_id].append(
            labeling_config.FeatureOutput(
                feature=ex.feature, labels=list(ex.labels or []), reasoning=ex.thinking, extraction_id=ex.pk
            )
        )
    payload = []
    for link in links:
        item = items[link.item_id]
        payload.append(
            labeling_config.task_build(
                item_id=item.pk,
                sample_id=sample.pk,
                conversation_external_id=item.conversation.external_id,
                messages=item.conversation.messages,
                outputs=outputs[item.conversation_id],
                features=features,
                version=version,
                taxonomy=taxonomy,
            )
        )
    return payload


def _project_ensure(project: LabelStudioProject, client: LabelStudio, form: _Form, *, recreate_deleted: bool) -> int:
    if project.label_studio_project_id is not None and project.status == ProjectStatus.ACTIVE:
        if client.project_exists(int(project.label_studio_project_id)):
            return int(project.label_studio_project_id)
        project_mark_deleted(project_id=project.pk)
        project.refresh_from_db()
    if project.status == ProjectStatus.DELETED:
        if not recreate_deleted:
            raise ProjectDeletedError(
                f"Label Studio project {project.label_studio_project_id} ({project.title!r}) was deleted at "
                f"{client.url}; push again with recreate_deleted (push_reviews --recreate-deleted) to recreate it"
            )
        with transaction.atomic():
            project.tasks.update(label_studio_task_id=None, pushed_at=None)
            project.label_studio_project_id = None
            project.status = ProjectStatus.ACTIVE
            project.save(update_fields=["label_studio_project_id", "status"])
    ls_id = client.project_find(title=project.title)
    if ls_id is None:
        ls_id = client.project_create(
            title=project.title,
            label_config=form.label_config,
            instructions=form.instructions,
            description=(
                f"Blind review of sample {project.sample_id} by {project.annotator.email}. "
                "Each task's data carries our item id."
            ),
        )
        project.label_config = form.label_config
    project.label_studio_project_id = ls_id
    project.independent = blind.project_is_blind(project)
    project.save(update_fields=["label_studio_project_id", "label_config", "independent"])
    return ls_id


def _form_ensure(project: LabelStudioProject, client: LabelStudio, form: _Form, *, restore_config: bool) -> bool:
    """Bring the project's form up to date; returns False (nothing changed) when it drifted in Label Studio.

    A form changed in Label Studio is never overwritten silently: only ``restore_config`` (after a lead looked
    at it) puts ours back. A form the app changed itself (a new protocol or config version) is updated.
    """
    ls_id = int(project.label_studio_project_id or 0)
    if restore_config and project.status == ProjectStatus.DRIFTED:
        LabelStudioProject.objects.filter(pk=project.pk).update(status=ProjectStatus.ACTIVE, status_detail="")
        project.status, project.status_detail = ProjectStatus.ACTIVE, ""
        project.label_config = ""
    elif blind.project_drift_check(project=project, client=client):
        return False
    if not blind.label_config_same(project.label_config, form.label_config):
        client.project_label_config_set(project_id=ls_id, label_config=form.label_config)
        client.project_instructions_set(project_id=ls_id, instructions=form.instructions)
        project.label_config = form.label_config
        project.save(update_fields=["label_config"])
    return True


def _task_ids_save(pairs: Sequence[tuple[int, int]]) -> None:
    """Record Label Studio task ids of mapping rows in one statement run for many rows.

    ``bulk_update`` builds a CASE expression per row and costs more than Label Studio's import at 10,000
    tasks (see BENCHMARKS.md); a parameterised UPDATE run by ``executemany`` does the same in milliseconds.
    """
    meta = LabelStudioTask._meta
    table, pk_col = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(str(meta.pk.column))  # type: ignore[union-attr]
    task_col = connection.ops.quote_name(str(meta.get_field("label_studio_task_id").column))
    at_col = connection.ops.quote_name(str(meta.get_field("pushed_at").column))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {task_col} = %s, {at_col} = %s WHERE {pk_col} = %s",
            [(task_id, now, pk) for pk, task_id in pairs],
        )


def _recover_mapping(project: LabelStudioProject, ls_id: int, client: LabelStudio, report: PushReport) -> None:
    """Map tasks that exist in Label Studio but not here (an import whose answer was lost), by item id."""
    mapped = project.tasks.exclude(label_studio_task_id=None).count()
    if client.project_task_count(ls_id) <= mapped:
        return
    by_item = {t.item_id: t for t in project.tasks.all()}
    known_ids = {t.label_studio_task_id for t in by_item.values() if t.label_studio_task_id is not None}
    updates = []
    for ref in sorted(client.task_refs(project_id=ls_id), key=lambda r: r.task_id):
        if ref.task_id in known_ids:
            continue
        link = by_item.get(ref.item_id) if ref.item_id is not None else None
        if link is None or link.label_studio_task_id is not None:
            report.duplicates_in_label_studio.append(ref.task_id)
            logger.warning(
                "Label Studio task %s in project %s is a duplicate or not ours (item %s)",
                ref.task_id,
                ls_id,
                ref.item_id,
            )
            continue
        link.label_studio_task_id = ref.task_id
        link.pushed_at = timezone.now()
        updates.append(link)
    _task_ids_save([(link.pk, int(link.label_studio_task_id or 0)) for link in updates])
    report.recovered += len(updates)


def _tasks_push(
    project: LabelStudioProject,
    ls_id: int,
    client: LabelStudio,
    *,
    sample: ReviewSample,
    features: Sequence[str],
    version: str,
    taxonomy: labeling_config.Taxonomy | None,
    batch_size: int,
    report: PushReport,
    on_batch: Callable[[int], None] | None,
) -> None:
    """The project's webhook, then its not-yet-pushed tasks in batches (after mapping any a lost answer hid)."""
    if settings.LABEL_STUDIO_WEBHOOK_URL and settings.LABEL_STUDIO_WEBHOOK_SECRET:
        client.webhook_ensure(
            project_id=ls_id,
            url=settings.LABEL_STUDIO_WEBHOOK_URL,
            # Every member of the project's organization can read it: a secret for this project alone.
            headers={
                settings.LABEL_STUDIO_WEBHOOK_HEADER: project_secret(
                    secret=settings.LABEL_STUDIO_WEBHOOK_SECRET, project_id=ls_id
                )
            },
        )
    if project.tasks.filter(label_studio_task_id=None).exists():
        _recover_mapping(project, ls_id, client, report)
    pending = list(project.tasks.filter(label_studio_task_id=None).order_by("item__position", "pk"))
    report.already += project.tasks.count() - len(pending)
    for batch in iter_batches(pending, batch_size):
        payload = _tasks_payload(sample, batch, features, version, taxonomy)
        task_ids = client.tasks_import(project_id=ls_id, tasks=payload)
        _task_ids_save([(link.pk, task_id) for link, task_id in zip(batch, task_ids, strict=True)])
        report.pushed += len(batch)
        if on_batch:
            on_batch(len(batch))
    # The task list shows the first human turn as text, not the transcript's HTML or the model's outputs.
    client.project_task_list_set(project_id=ls_id, shown_data=labeling_config.TASK_LIST_DATA)
    project.last_pushed_at = timezone.now()
    project.save(update_fields=["last_pushed_at"])


def _blind_setup(sample_id: int, client: LabelStudio, server: LocalLabelStudio | None, report: PushReport) -> None:
    """On the Label Studio the app manages, every reviewer of the sample in an organization of their own."""
    server = server or blind.managed_server()
    if server is None or server.url != client.url.rstrip("/"):
        return
    try:
        report.new_logins = blind.sample_blind_setup(sample_id=sample_id, server=server, client=client)
    except (LocalLabelStudioError, ValueError) as exc:
        raise LabelStudioError(f"setting up the reviewers' Label Studio accounts: {exc}") from exc


def sample_push(
    *,
    sample_id: int,
    client: LabelStudio | None = None,
    server: LocalLabelStudio | None = None,
    batch_size: int | None = None,
    taxonomy: labeling_config.Taxonomy | None = None,
    recreate_deleted: bool = False,
    restore_config: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> PushReport:
    """Push every not-yet-pushed assignment of the sample to its annotator's Label Studio project.

    The one push of the command, the API and the task. On the Label Studio the app manages (``server``, by
    default the configured one when it is that), every reviewer first gets an account and an organization of
    their own (blind review, see :mod:`annotate.services.blind`); logins of accounts created now are in
    ``report.new_logins``. Each project is then reached as its reviewer. Resumable and idempotent: tasks
    already mapped are skipped; tasks Label Studio created without us recording them (a crash or lost answer
    mid-import) are found by the item id in their data and mapped instead of imported again. A project
    whose labeling config was changed in Label Studio gets nothing (``report.drifted``) unless
    ``restore_config``. ``on_batch`` is called with the number of tasks after each imported batch.
    """
    client = client or LabelStudio.from_settings()
    batch_size = batch_size or settings.LABEL_STUDIO_PUSH_BATCH_SIZE
    sample = ReviewSample.objects.select_related("run").get(pk=sample_id)
    features = _sample_features(sample)
    protocol = instructions.review_protocol_read(known_features=Feature.values)
    form = _Form(
        label_config=labeling_config.labeling_config_build(
            features, taxonomy=taxonomy, guides=labeling_config.feature_guides(protocol)
        ),
        instructions=labeling_config.instructions_build(protocol, features),
    )
    version = _model_version(sample, features)
    report = PushReport()
    if not sample.projects.exists():
        raise ValueError(f"sample {sample_id} has no assignments: assign annotators first")
    _blind_setup(sample.pk, client, server, report)
    projects = list(sample.projects.select_related("annotator").order_by("pk"))
    for project in projects:
        acting = blind.project_client(project, client)
        ls_id = _project_ensure(project, acting, form, recreate_deleted=recreate_deleted)
        report.projects[project.pk] = ls_id
        if not project.independent:
            report.not_independent.append(project.pk)
        if not _form_ensure(project, acting, form, restore_config=restore_config):
            report.drifted.append(project.pk)
            continue
        _tasks_push(
            project,
            ls_id,
            acting,
            sample=sample,
            features=features,
            version=version,
            taxonomy=taxonomy,
            batch_size=batch_size,
            report=report,
            on_batch=on_batch,
        )
    report.already -= report.recovered
    return report


def project_mark_deleted(*, project_id: int) -> None:
    """The project is gone from Label Studio: keep our annotations (they were real), forget nothing else."""
    updated = LabelStudioProject.objects.filter(pk=project_id, status=ProjectStatus.ACTIVE).update(
        status=ProjectStatus.DELETED
    )
    if updated:
        logger.warning("Label Studio project of %s was deleted on the Label Studio side", project_id)
