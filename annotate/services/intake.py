"""Annotation intake: Label Studio annotations stored as one row per feature, from webhooks or an export.

Idempotence is carried by the database: an annotation row exists once per (Label Studio annotation id,
feature); a webhook call is stored once per body digest and applied once. A replay, or a copy older than
the stored one, changes nothing. Every row written is checked against the consistency rules
(:mod:`annotate.services.flags`).

A webhook call is signed by one project's secret, which its reviewer can read in Label Studio: what it says
about another project's tasks or annotations is not stored (``scope``), and a review in a project of one
reviewer's own (blind review) is always theirs, whatever user id the body names.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from annotate import labeling_config
from annotate.label_studio import LsAnnotation
from annotate.models import (
    Annotation,
    AnnotationTombstone,
    Annotator,
    LabelStudioTask,
    ProjectStatus,
    ReviewItem,
    ReviewSample,
)
from annotate.services.bulk import DB_CHUNK, chunks
from annotate.services.flags import review_flags_refresh
from corpus.cache import reports_warm_soon
from extraction.models import Extraction, Feature

logger = logging.getLogger(__name__)


@dataclass
class IntakeReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    cancelled: int = 0
    tombstoned: int = 0
    unknown_tasks: list[int] = field(default_factory=list)
    #: Annotations a webhook call spoke about outside the project it was signed for.
    refused: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def merge(self, other: IntakeReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.cancelled += other.cancelled
        self.tombstoned += other.tombstoned
        self.unknown_tasks += other.unknown_tasks
        self.refused += other.refused
        self.problems += other.problems


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _is_newer(incoming: str, stored: str) -> bool:
    """True unless ``stored`` is at least as recent: a replay (same time) or an older copy changes nothing."""
    new, old = _parse_time(incoming), _parse_time(stored)
    if new is None or old is None:
        return incoming != stored
    return new > old


# A Label Studio task id -> (our task row, review item, the project's annotator, sample).
_Link = tuple[int, int, int, int]


@dataclass(frozen=True)
class _TaskProject:
    """The project of a Label Studio task: its Label Studio id, and whether it is one reviewer's alone."""

    label_studio_id: int | None
    independent: bool


# The columns an upsert writes on an existing row.
_ROW_FIELDS = [
    "item_id",
    "extraction_id",
    "annotator_id",
    "task_id",
    "verdict",
    "reasoning_check",
    "corrected_labels",
    "subjectivity_level",
    "comment",
    "lead_time_s",
    "label_studio_updated_at",
    "deleted",
    "accepted_all",
    "labels_edited",
    "updated_at",
]


@dataclass
class _Known:
    """What the database holds about a batch of annotations, read in bulk before anything is written."""

    links: dict[int, _Link]
    items: dict[int, tuple[int, int]]  # review item -> (conversation, extraction run)
    extractions: dict[tuple[int, int, str], int]  # (run, conversation, feature) -> extraction
    model_labels: dict[int, list[str]]  # extraction -> the model's labels
    drifted_tasks: set[int]  # Label Studio tasks of projects whose form was changed in Label Studio
    task_projects: dict[int, _TaskProject]
    sample_features: dict[int, list[str]]
    annotator_by_ls_user: dict[int | None, int]
    stored: dict[int, dict[str, Annotation]]  # Label Studio annotation id -> feature -> row
    # Label Studio annotation ids deleted there -> the project a webhook said so for (None: any).
    tombstones: dict[int, int | None] = field(default_factory=dict)


@dataclass
class _Writes:
    create: list[Annotation] = field(default_factory=list)
    update: list[Annotation] = field(default_factory=list)


def _task_links(task_ids: Sequence[int]) -> tuple[dict[int, _Link], set[int], dict[int, _TaskProject]]:
    """Each task's link, the tasks whose project drifted, and each task's project."""
    links: dict[int, _Link] = {}
    drifted: set[int] = set()
    projects: dict[int, _TaskProject] = {}
    for chunk in chunks(task_ids):
        for (
            pk,
            ls_id,
            item_id,
            annotator_id,
            sample_id,
            status,
            project_ls_id,
            independent,
        ) in LabelStudioTask.objects.filter(label_studio_task_id__in=chunk).values_list(
            "pk",
            "label_studio_task_id",
            "item_id",
            "project__annotator_id",
            "project__sample_id",
            "project__status",
            "project__label_studio_project_id",
            "project__independent",
        ):
            links[int(ls_id or 0)] = (pk, item_id, annotator_id, sample_id)
            projects[int(ls_id or 0)] = _TaskProject(project_ls_id, bool(independent))
            if status == ProjectStatus.DRIFTED:
                drifted.add(int(ls_id or 0))
    return links, drifted, projects


def _review_items(item_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    items: dict[int, tuple[int, int]] = {}
    for chunk in chunks(item_ids):
        for pk, conversation_id, run_id in ReviewItem.objects.filter(pk__in=chunk).values_list(
            "pk", "conversation_id", "sample__run_id"
        ):
            items[pk] = (conversation_id, run_id)
    return items


def _extraction_ids(
    items: dict[int, tuple[int, int]],
) -> tuple[dict[tuple[int, int, str], int], dict[int, list[str]]]:
    """Each (run, conversation, feature)'s extraction, and each extraction's labels."""
    extractions: dict[tuple[int, int, str], int] = {}
    labels: dict[int, list[str]] = {}
    by_run: dict[int, set[int]] = defaultdict(set)
    for conversation_id, run_id in items.values():
        by_run[run_id].add(conversation_id)
    for run_id, conversations in by_run.items():
        for chunk in chunks(sorted(conversations)):
            for pk, conversation_id, feature, model_labels in Extraction.objects.filter(
                run_id=run_id, conversation_id__in=chunk
            ).values_list("pk", "conversation_id", "feature", "labels"):
                extractions[(run_id, conversation_id, feature)] = pk
                labels[pk] = list(model_labels or [])
    return extractions, labels


def _stored_rows(annotation_ids: Sequence[int]) -> dict[int, dict[str, Annotation]]:
    stored: dict[int, dict[str, Annotation]] = defaultdict(dict)
    for chunk in chunks(annotation_ids):
        for row in Annotation.objects.filter(label_studio_annotation_id__in=chunk):
            stored[row.label_studio_annotation_id][row.feature] = row
    return stored


def _tombstones(annotation_ids: Sequence[int]) -> dict[int, int | None]:
    found: dict[int, int | None] = {}
    for chunk in chunks(annotation_ids):
        found.update(
            AnnotationTombstone.objects.filter(label_studio_annotation_id__in=chunk).values_list(
                "label_studio_annotation_id", "label_studio_project_id"
            )
        )
    return found


def _known_read(annotations: Sequence[LsAnnotation]) -> _Known:
    annotation_ids = sorted({a.annotation_id for a in annotations})
    links, drifted, task_projects = _task_links(sorted({a.task_id for a in annotations}))
    items = _review_items(sorted({link[1] for link in links.values()}))
    sample_features = {
        pk: list(params.get("features") or sorted(Feature.values))
        for pk, params in ReviewSample.objects.filter(pk__in={v[3] for v in links.values()}).values_list("pk", "params")
    }
    annotator_by_ls_user = dict(
        Annotator.objects.exclude(label_studio_user_id=None).values_list("label_studio_user_id", "pk")
    )
    extractions, model_labels = _extraction_ids(items)
    return _Known(
        links=links,
        items=items,
        extractions=extractions,
        model_labels=model_labels,
        drifted_tasks=drifted,
        task_projects=task_projects,
        sample_features=sample_features,
        annotator_by_ls_user=annotator_by_ls_user,
        stored=_stored_rows(annotation_ids),
        tombstones=_tombstones(annotation_ids),
    )


def _latest_copies(annotations: Sequence[LsAnnotation]) -> list[LsAnnotation]:
    """The latest copy of each annotation: it wins when a batch holds several."""
    latest: dict[int, LsAnnotation] = {}
    for ann in annotations:
        kept = latest.get(ann.annotation_id)
        if kept is None or _is_newer(ann.updated_at, kept.updated_at):
            latest[ann.annotation_id] = ann
    return list(latest.values())


def _rows_delete(stored: dict[str, Annotation], writes: _Writes, report: IntakeReport) -> None:
    for row in stored.values():
        if not row.deleted:
            row.deleted = True
            writes.update.append(row)
            report.deleted += 1


def _reviews_apply(
    ann: LsAnnotation,
    reviews: dict[str, labeling_config.FeatureReview],
    link: _Link,
    known: _Known,
    writes: _Writes,
    report: IntakeReport,
) -> bool:
    """Queue one row per reviewed feature (new or overwritten); returns whether any row was queued."""
    link_pk, item_id, project_annotator_id, _ = link
    stored = known.stored.get(ann.annotation_id, {})
    conversation_id, run_id = known.items[item_id]
    if known.task_projects[ann.task_id].independent:  # the reviewer's own organization: nobody else is in it
        annotator_id = project_annotator_id
    else:
        annotator_id = known.annotator_by_ls_user.get(ann.completed_by, project_annotator_id)
    changed = False
    for feature, review in reviews.items():
        extraction_id = known.extractions.get((run_id, conversation_id, feature))
        if extraction_id is None:
            report.problems.append(
                f"annotation {ann.annotation_id}: no extraction of {feature!r} for item {item_id}; row skipped"
            )
            continue
        values = {
            "item_id": item_id,
            "extraction_id": extraction_id,
            "annotator_id": annotator_id,
            "task_id": link_pk,
            "verdict": review.verdict,
            "reasoning_check": review.reasoning_check,
            "corrected_labels": review.labels,
            "subjectivity_level": review.subjectivity_level,
            "comment": review.comment,
            "lead_time_s": ann.lead_time,
            "label_studio_updated_at": ann.updated_at,
            "deleted": False,
            "accepted_all": review.accepted_all,
            "labels_edited": labeling_config.labels_edited(feature, known.model_labels.get(extraction_id, []), review),
        }
        current = stored.get(feature)
        if current is None:
            writes.create.append(Annotation(label_studio_annotation_id=ann.annotation_id, feature=feature, **values))
        else:
            for key, value in values.items():
                setattr(current, key, value)
            writes.update.append(current)
        changed = True
    return changed


def _outside_scope(ann: LsAnnotation, known: _Known, scope: int | None, report: IntakeReport) -> bool:
    """Whether a call signed for project ``scope`` speaks about another project's task (reported, not stored)."""
    if scope is None or ann.task_id not in known.links:
        return False
    project = known.task_projects[ann.task_id].label_studio_id
    if project == scope:
        return False
    report.refused.append(ann.annotation_id)
    report.problems.append(
        f"annotation {ann.annotation_id} (task {ann.task_id} of project {project}) not read: the call was signed "
        f"for project {scope}"
    )
    logger.warning("webhook signed for project %s spoke about task %s of project %s", scope, ann.task_id, project)
    return True


def _annotation_apply(
    ann: LsAnnotation, known: _Known, writes: _Writes, report: IntakeReport, scope: int | None = None
) -> None:
    """Queue the writes one annotation asks for, and count it in ``report``."""
    link = known.links.get(ann.task_id)
    if _outside_scope(ann, known, scope, report):
        return
    if link is None:
        report.unknown_tasks.append(ann.task_id)
        logger.warning(
            "annotation %s is for Label Studio task %s, which we did not push", ann.annotation_id, ann.task_id
        )
        return
    if ann.task_id in known.drifted_tasks:
        report.problems.append(
            f"annotation {ann.annotation_id} (task {ann.task_id}) not read: its project's labeling config was "
            "changed in Label Studio"
        )
        return
    stored = known.stored.get(ann.annotation_id, {})
    if ann.annotation_id in known.tombstones and known.tombstones[ann.annotation_id] in (
        None,
        known.task_projects[ann.task_id].label_studio_id,
    ):  # deleted in Label Studio; this copy arrived late
        report.tombstoned += 1
        _rows_delete(stored, writes, report)
        return
    if ann.was_cancelled:  # a cancelled (skipped) annotation counts as no review
        report.cancelled += 1
        _rows_delete(stored, writes, report)
        return
    try:
        reviews = {r.feature: r for r in labeling_config.annotation_parse(ann.result, known.sample_features[link[3]])}
    except ValueError as exc:
        report.problems.append(f"annotation {ann.annotation_id} (task {ann.task_id}): {exc}")
        logger.warning("annotation %s (task %s) is malformed: %s", ann.annotation_id, ann.task_id, exc)
        return
    # A replay, or a copy older than what we hold, changes nothing (not even a deletion made since).
    if stored and not any(_is_newer(ann.updated_at, row.label_studio_updated_at) for row in stored.values()):
        report.unchanged += 1
        return
    changed = _reviews_apply(ann, reviews, link, known, writes, report)
    for feature, row in stored.items():
        if feature not in reviews and not row.deleted:
            row.deleted = True
            row.label_studio_updated_at = ann.updated_at
            writes.update.append(row)
    if changed:
        if stored:
            report.updated += 1
        else:
            report.created += 1


def annotations_upsert(*, annotations: Sequence[LsAnnotation], scope: int | None = None) -> IntakeReport:
    """Store Label Studio annotations as one row per feature; bulk reads and writes, idempotent.

    ``scope``: the Label Studio project a webhook call was signed for; annotations of other projects' tasks
    are reported (``refused``) and not stored.

    An annotation whose ``updated_at`` is not newer than the stored copy changes nothing. An annotation on a
    task we never pushed is reported (``unknown_tasks``) and skipped. A cancelled (skipped) annotation counts
    as no review: its rows, if any, are marked deleted.
    """
    report = IntakeReport()
    if not annotations:
        return report
    known = _known_read(annotations)
    writes = _Writes()
    for ann in _latest_copies(annotations):
        _annotation_apply(ann, known, writes, report, scope)
    # bulk_update does not touch auto_now fields: set here, so that a review changed in place changes
    # ``review_data_version`` (the key of the figures cached from the reviews) like an added or deleted one.
    now = timezone.now()
    for row in writes.update:
        row.updated_at = now
    with transaction.atomic():
        Annotation.objects.bulk_create(writes.create, batch_size=DB_CHUNK, ignore_conflicts=True)
        Annotation.objects.bulk_update(writes.update, _ROW_FIELDS, batch_size=DB_CHUNK)
        if writes.create or writes.update:
            _flags_refresh(sorted({a.annotation_id for a in annotations}))
            reports_warm_soon()  # the gold labels behind a run's corrected shares changed
    return report


def _flags_refresh(label_studio_ids: Sequence[int]) -> None:
    """Re-check the written rows against the consistency rules (flags follow the review's latest copy)."""
    ids: list[int] = []
    for chunk in chunks(label_studio_ids):
        ids += Annotation.objects.filter(label_studio_annotation_id__in=chunk).values_list("pk", flat=True)
    review_flags_refresh(annotation_ids=ids)


def annotations_mark_deleted(*, annotation_ids: Iterable[int], scope: int | None = None) -> int:
    """Mark the rows of these annotations deleted, and leave a tombstone so a late create cannot revive them.

    ``scope``: the Label Studio project a webhook call was signed for; its tombstones hold for that project's
    annotations only (the caller leaves out ids stored in other projects, see :func:`_deletions_in_scope`).
    """
    ids = sorted(set(annotation_ids))
    count = 0
    AnnotationTombstone.objects.bulk_create(
        [AnnotationTombstone(label_studio_annotation_id=i, label_studio_project_id=scope) for i in ids],
        batch_size=DB_CHUNK,
        ignore_conflicts=True,
    )
    for chunk in chunks(ids):
        count += Annotation.objects.filter(label_studio_annotation_id__in=chunk, deleted=False).update(
            deleted=True, updated_at=timezone.now()
        )
    if count:
        _flags_refresh(ids)
        reports_warm_soon()
    return count
