"""Writes of the review loop: samples, assignment, pushing to Label Studio, annotation intake, reconciliation.

Idempotence is carried by the database: a task is mapped once per (project, item) and once per Label
Studio task id; an annotation row once per (Label Studio annotation id, feature); a webhook call once
per body digest. Every step can be rerun after a crash and picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotate import labeling_config, sampling
from annotate.label_studio import (
    ANNOTATION_ACTIONS,
    LabelStudio,
    LabelStudioError,
    LabelStudioNotFoundError,
    LsAnnotation,
    iter_batches,
)
from annotate.models import (
    Annotation,
    Annotator,
    EventStatus,
    LabelStudioProject,
    LabelStudioTask,
    ProjectStatus,
    ReviewItem,
    ReviewSample,
    SampleStrategy,
    WebhookEvent,
)
from extraction.models import Extraction, ExtractionStatus, Feature
from stats.proportions import required_sample_size

logger = logging.getLogger(__name__)

STRATIFY_BY_MODEL = "model"
DB_CHUNK = 2000


class ProjectDeletedError(LabelStudioError):
    """The annotator's Label Studio project was deleted on the Label Studio side."""


# -- review samples -----------------------------------------------------------------------------------------


def _population(*, run_id: int, features: Sequence[str], stratify_by: str | None) -> pd.DataFrame:
    rows = list(
        Extraction.objects.filter(run_id=run_id, status=ExtractionStatus.OK, feature__in=features).values_list(
            "conversation_id", "feature", "labels", "confidence", "conversation__model"
        )
    )
    if not rows:
        raise ValueError(f"extraction run {run_id} has no parsed extractions for {list(features)}")
    frame = pd.DataFrame(rows, columns=["conversation_id", "feature", "labels", "confidence", "model"])
    population = frame.groupby("conversation_id").agg(confidence=("confidence", "min"), model=("model", "first"))
    if stratify_by == STRATIFY_BY_MODEL:
        population["stratum"] = population["model"].fillna("").replace("", "(unknown model)")
    elif stratify_by:
        of_feature = frame[frame["feature"] == stratify_by].set_index("conversation_id")["labels"]
        population["stratum"] = (
            of_feature.map(lambda labels: "|".join(sorted(labels)) if labels else "none")
            .reindex(population.index)
            .fillna("(no output)")
        )
    return population


_SELECTORS: dict[str, Callable[..., sampling.Selection]] = {
    SampleStrategy.RANDOM: sampling.select_random,
    SampleStrategy.STRATIFIED: sampling.select_stratified,
    SampleStrategy.UNCERTAINTY: sampling.select_uncertainty,
    SampleStrategy.FIND_ERRORS: sampling.select_find_errors,
    SampleStrategy.TARGET_WIDTH: sampling.select_random,
}
_DESIGN_OPTIONS: dict[str, set[str]] = {
    SampleStrategy.STRATIFIED: {"min_per_stratum"},
    SampleStrategy.UNCERTAINTY: {"floor"},
}


def _select(
    strategy: str, population: pd.DataFrame, *, size: int, seed: int, design: dict[str, Any]
) -> sampling.Selection:
    unknown = set(design) - _DESIGN_OPTIONS.get(strategy, set())
    if unknown:
        raise ValueError(f"design options {sorted(unknown)} do not apply to a {strategy} sample")
    return _SELECTORS[strategy](population, size=size, seed=seed, **design)


def review_sample_create(
    *,
    run_id: int,
    strategy: str,
    size: int,
    seed: int | None = None,
    stratify_by: str | None = None,
    features: Sequence[str] | None = None,
    reviewers_per_item: int = 1,
    name: str = "",
    extra_params: dict[str, Any] | None = None,
    target_half_width: float | None = None,
    expected_agreement: float = 0.95,
    confidence: float = 0.95,
    design: dict[str, Any] | None = None,
) -> ReviewSample:
    """Draw and store a review sample of ``size`` conversations from an extraction run.

    ``design``: options of the sampling design, ``{"min_per_stratum": k}`` for a disproportionate stratified
    sample, ``{"floor": f}`` for the uncertainty design (see ``annotate.sampling``). Every item stores its
    inclusion probability (none for ``find_errors``, which estimates nothing for the run).

    With ``strategy="target_width"`` the size is the planner's (``stats.proportions.required_sample_size``):
    the fewest items whose Wilson interval at ``expected_agreement`` has half-width at most
    ``target_half_width``; the items are then drawn at random and the planner's inputs recorded. The seed
    (drawn when not given) and every parameter are stored, so :func:`review_sample_create` with the stored
    values reproduces the same items in the same order.
    """
    if strategy == SampleStrategy.TARGET_WIDTH:
        if target_half_width is None:
            raise ValueError("a target_width sample needs target_half_width (e.g. 0.05 for ±5%)")
        size = required_sample_size(expected_agreement, target_half_width, confidence=confidence)
        extra_params = {
            **(extra_params or {}),
            "planner": {
                "target_half_width": target_half_width,
                "expected_agreement": expected_agreement,
                "confidence": confidence,
                "method": "wilson",
            },
        }
    if strategy not in _SELECTORS:
        raise ValueError(f"strategy {strategy!r} is not one of {sorted(_SELECTORS)}")
    features = list(features) if features else sorted(Feature.values)
    if strategy == SampleStrategy.STRATIFIED:
        if not stratify_by:
            raise ValueError("a stratified sample needs stratify_by: 'model' or a feature")
        if stratify_by != STRATIFY_BY_MODEL and stratify_by not in Feature.values:
            raise ValueError(f"stratify_by={stratify_by!r}: use 'model' or one of {sorted(Feature.values)}")
    seed = seed if seed is not None else secrets.randbits(32)
    population = _population(run_id=run_id, features=features, stratify_by=stratify_by)
    selection = _select(strategy, population, size=size, seed=seed, design=design or {})
    params = {
        "size": size,
        "features": features,
        "stratify_by": stratify_by,
        "population": len(population),
        "allocation": selection.allocation,
        "stratum_sizes": selection.stratum_sizes,
        **({"design": design} if design else {}),
        **(extra_params or {}),
    }
    with transaction.atomic():
        sample = ReviewSample.objects.create(
            run_id=run_id,
            name=name,
            strategy=strategy,
            seed=seed,
            params=params,
            reviewers_per_item=reviewers_per_item,
        )
        probabilities = selection.inclusion_probabilities or (None,) * len(selection.unit_ids)
        ReviewItem.objects.bulk_create(
            ReviewItem(sample=sample, conversation_id=cid, position=pos, stratum=stratum[:200], inclusion_probability=p)
            for pos, (cid, stratum, p) in enumerate(
                zip(selection.unit_ids, selection.strata, probabilities, strict=True)
            )
        )
    return sample


# -- annotators and assignment ------------------------------------------------------------------------------


def annotator_get_or_create(*, email: str) -> Annotator:
    annotator, _ = Annotator.objects.get_or_create(email=email.strip().lower())
    return annotator


def annotator_link_label_studio(*, annotator_id: int, password: str, client: LabelStudio) -> LabelStudio:
    """Make sure the annotator has a Label Studio account (signing up through the invite link if needed).

    Stores their Label Studio user id and returns a client acting as them. Their token is never stored.
    """
    annotator = Annotator.objects.get(pk=annotator_id)
    user = client.user_signup(email=annotator.email, password=password)
    if annotator.label_studio_user_id != user.user_id:
        annotator.label_studio_user_id = user.user_id
        annotator.save(update_fields=["label_studio_user_id"])
    return client.as_user(user.api_key)


def review_sample_assign(*, sample_id: int, annotator_ids: Sequence[int], reviewers_per_item: int) -> int:
    """Assign each item to ``reviewers_per_item`` distinct annotators, one Label Studio project each.

    Idempotent: assignments already made are kept (a rerun with the same annotators creates nothing).
    Returns the number of new assignments.
    """
    sample = ReviewSample.objects.get(pk=sample_id)
    annotators = list(Annotator.objects.filter(pk__in=annotator_ids).order_by("pk"))
    if len(annotators) != len(set(annotator_ids)):
        raise ValueError(f"unknown annotator id(s) among {list(annotator_ids)}")
    items = list(sample.items.order_by("position").values_list("pk", flat=True))
    plan = sampling.assign_reviewers(len(items), len(annotators), reviewers_per_item, sample.seed)
    with transaction.atomic():
        if sample.reviewers_per_item != reviewers_per_item:
            sample.reviewers_per_item = reviewers_per_item
            sample.save(update_fields=["reviewers_per_item"])
        projects = {}
        for annotator in annotators:
            project = LabelStudioProject.objects.filter(sample=sample, annotator=annotator).first()
            if project is None:
                label = sample.name or f"sample {sample.pk}"
                project = LabelStudioProject.objects.create(
                    sample=sample,
                    annotator=annotator,
                    # Label Studio allows 50 characters. The token makes the title unique on a shared server, so
                    # a project created just before a crash is found again by its title, not created twice.
                    title=f"{label[:18]} | {annotator.email.split('@')[0][:18]} | {uuid.uuid4().hex[:8]}",
                )
            projects[annotator.pk] = project
        rows = [
            LabelStudioTask(project=projects[annotators[a].pk], item_id=item_id)
            for item_id, chosen in zip(items, plan, strict=True)
            for a in chosen
        ]
        before = LabelStudioTask.objects.filter(project__sample=sample).count()
        LabelStudioTask.objects.bulk_create(rows, ignore_conflicts=True, batch_size=DB_CHUNK)
        return LabelStudioTask.objects.filter(project__sample=sample).count() - before


# -- pushing ------------------------------------------------------------------------------------------------


@dataclass
class PushReport:
    pushed: int = 0
    recovered: int = 0
    already: int = 0
    duplicates_in_label_studio: list[int] = field(default_factory=list)
    projects: dict[int, int] = field(default_factory=dict)


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


def _project_ensure(
    project: LabelStudioProject, client: LabelStudio, label_config: str, *, recreate_deleted: bool
) -> int:
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
            label_config=label_config,
            description=(
                f"Blind review of sample {project.sample_id} by {project.annotator.email}. "
                "Each task's data carries our item id."
            ),
        )
    project.label_studio_project_id = ls_id
    project.save(update_fields=["label_studio_project_id"])
    return ls_id


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


def sample_push(
    *,
    sample_id: int,
    client: LabelStudio | None = None,
    batch_size: int | None = None,
    taxonomy: labeling_config.Taxonomy | None = None,
    recreate_deleted: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> PushReport:
    """Push every not-yet-pushed assignment of the sample to its annotator's Label Studio project.

    Resumable and idempotent: tasks already mapped are skipped; tasks Label Studio created without us
    recording them (a crash or lost answer mid-import) are found by the item id in their data and mapped
    instead of imported again. ``on_batch`` is called with the number of tasks after each imported batch.
    """
    client = client or LabelStudio.from_settings()
    batch_size = batch_size or settings.LABEL_STUDIO_PUSH_BATCH_SIZE
    sample = ReviewSample.objects.select_related("run").get(pk=sample_id)
    features = _sample_features(sample)
    label_config = labeling_config.labeling_config_build(features, taxonomy=taxonomy)
    version = _model_version(sample, features)
    report = PushReport()
    projects = list(sample.projects.select_related("annotator").order_by("pk"))
    if not projects:
        raise ValueError(f"sample {sample_id} has no assignments: assign annotators first")
    for project in projects:
        ls_id = _project_ensure(project, client, label_config, recreate_deleted=recreate_deleted)
        report.projects[project.pk] = ls_id
        if settings.LABEL_STUDIO_WEBHOOK_URL and settings.LABEL_STUDIO_WEBHOOK_SECRET:
            client.webhook_ensure(
                project_id=ls_id,
                url=settings.LABEL_STUDIO_WEBHOOK_URL,
                headers={settings.LABEL_STUDIO_WEBHOOK_HEADER: settings.LABEL_STUDIO_WEBHOOK_SECRET},
            )
        pending_exists = project.tasks.filter(label_studio_task_id=None).exists()
        if pending_exists:
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
        project.last_pushed_at = timezone.now()
        project.save(update_fields=["last_pushed_at"])
    report.already -= report.recovered
    return report


def project_mark_deleted(*, project_id: int) -> None:
    """The project is gone from Label Studio: keep our annotations (they were real), forget nothing else."""
    updated = LabelStudioProject.objects.filter(pk=project_id, status=ProjectStatus.ACTIVE).update(
        status=ProjectStatus.DELETED
    )
    if updated:
        logger.warning("Label Studio project of %s was deleted on the Label Studio side", project_id)


# -- annotation intake --------------------------------------------------------------------------------------


@dataclass
class IntakeReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    cancelled: int = 0
    unknown_tasks: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def merge(self, other: IntakeReport) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.cancelled += other.cancelled
        self.unknown_tasks += other.unknown_tasks
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


def _chunks(values: Sequence[Any], size: int = DB_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def annotations_upsert(*, annotations: Sequence[LsAnnotation]) -> IntakeReport:
    """Store Label Studio annotations as one row per feature; bulk reads and writes, idempotent.

    An annotation whose ``updated_at`` is not newer than the stored copy changes nothing. An annotation on a
    task we never pushed is reported (``unknown_tasks``) and skipped. A cancelled (skipped) annotation counts
    as no review: its rows, if any, are marked deleted.
    """
    report = IntakeReport()
    if not annotations:
        return report
    task_ids = sorted({a.task_id for a in annotations})
    links: dict[int, tuple[int, int, int, int]] = {}
    for chunk in _chunks(task_ids):
        for pk, ls_id, item_id, annotator_id, sample_id in LabelStudioTask.objects.filter(
            label_studio_task_id__in=chunk
        ).values_list("pk", "label_studio_task_id", "item_id", "project__annotator_id", "project__sample_id"):
            links[int(ls_id or 0)] = (pk, item_id, annotator_id, sample_id)
    item_ids = sorted({v[1] for v in links.values()})
    items: dict[int, tuple[int, int]] = {}
    for chunk in _chunks(item_ids):
        for pk, conversation_id, run_id in ReviewItem.objects.filter(pk__in=chunk).values_list(
            "pk", "conversation_id", "sample__run_id"
        ):
            items[pk] = (conversation_id, run_id)
    extractions: dict[tuple[int, int, str], int] = {}
    by_run: dict[int, set[int]] = defaultdict(set)
    for conversation_id, run_id in items.values():
        by_run[run_id].add(conversation_id)
    for run_id, conversations in by_run.items():
        for chunk in _chunks(sorted(conversations)):
            for pk, conversation_id, feature in Extraction.objects.filter(
                run_id=run_id, conversation_id__in=chunk
            ).values_list("pk", "conversation_id", "feature"):
                extractions[(run_id, conversation_id, feature)] = pk
    sample_features = {
        pk: list(params.get("features") or sorted(Feature.values))
        for pk, params in ReviewSample.objects.filter(pk__in={v[3] for v in links.values()}).values_list("pk", "params")
    }
    annotator_by_ls_user = dict(
        Annotator.objects.exclude(label_studio_user_id=None).values_list("label_studio_user_id", "pk")
    )
    ann_ids = sorted({a.annotation_id for a in annotations})
    existing: dict[int, dict[str, Annotation]] = defaultdict(dict)
    for chunk in _chunks(ann_ids):
        for row in Annotation.objects.filter(label_studio_annotation_id__in=chunk):
            existing[row.label_studio_annotation_id][row.feature] = row

    to_create: list[Annotation] = []
    to_update: list[Annotation] = []
    # The latest copy of each annotation wins when a batch holds several.
    latest: dict[int, LsAnnotation] = {}
    for ann in annotations:
        kept = latest.get(ann.annotation_id)
        if kept is None or _is_newer(ann.updated_at, kept.updated_at):
            latest[ann.annotation_id] = ann
    for ann in latest.values():
        link = links.get(ann.task_id)
        if link is None:
            report.unknown_tasks.append(ann.task_id)
            logger.warning(
                "annotation %s is for Label Studio task %s, which we did not push", ann.annotation_id, ann.task_id
            )
            continue
        link_pk, item_id, project_annotator_id, sample_id = link
        features = sample_features[sample_id]
        stored = existing.get(ann.annotation_id, {})
        if ann.was_cancelled:
            report.cancelled += 1
            for row in stored.values():
                if not row.deleted:
                    row.deleted = True
                    to_update.append(row)
                    report.deleted += 1
            continue
        try:
            reviews = {r.feature: r for r in labeling_config.annotation_parse(ann.result, features)}
        except ValueError as exc:
            report.problems.append(f"annotation {ann.annotation_id} (task {ann.task_id}): {exc}")
            logger.warning("annotation %s (task %s) is malformed: %s", ann.annotation_id, ann.task_id, exc)
            continue
        # A replay, or a copy older than what we hold, changes nothing (not even a deletion made since).
        if stored and not any(_is_newer(ann.updated_at, row.label_studio_updated_at) for row in stored.values()):
            report.unchanged += 1
            continue
        conversation_id, run_id = items[item_id]
        annotator_id = annotator_by_ls_user.get(ann.completed_by, project_annotator_id)
        changed = False
        for feature, review in reviews.items():
            extraction_id = extractions.get((run_id, conversation_id, feature))
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
            }
            current = stored.get(feature)
            if current is None:
                to_create.append(Annotation(label_studio_annotation_id=ann.annotation_id, feature=feature, **values))
                changed = True
            else:
                for key, value in values.items():
                    setattr(current, key, value)
                to_update.append(current)
                changed = True
        for feature, row in stored.items():
            if feature not in reviews and not row.deleted:
                row.deleted = True
                row.label_studio_updated_at = ann.updated_at
                to_update.append(row)
        if changed:
            if stored:
                report.updated += 1
            else:
                report.created += 1
    with transaction.atomic():
        Annotation.objects.bulk_create(to_create, batch_size=DB_CHUNK, ignore_conflicts=True)
        Annotation.objects.bulk_update(
            to_update,
            [
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
                "updated_at",
            ],
            batch_size=DB_CHUNK,
        )
    return report


def annotations_mark_deleted(*, annotation_ids: Iterable[int]) -> int:
    ids = sorted(set(annotation_ids))
    count = 0
    for chunk in _chunks(ids):
        count += Annotation.objects.filter(label_studio_annotation_id__in=chunk, deleted=False).update(
            deleted=True, updated_at=timezone.now()
        )
    return count


# -- webhooks -----------------------------------------------------------------------------------------------


def webhook_payload_check(payload: Any) -> tuple[str, list[LsAnnotation] | list[int]]:
    """Validate a webhook body; returns its action and annotations (or deleted ids). Raises ``ValueError``."""
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise ValueError("'action' is missing")
    if action not in ANNOTATION_ACTIONS:
        return action, []
    if action == "ANNOTATIONS_DELETED":
        entries = payload.get("annotations")
        if not isinstance(entries, list):
            raise ValueError("ANNOTATIONS_DELETED needs an 'annotations' list")
        try:
            return action, [int(e["id"]) for e in entries]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("every entry of 'annotations' needs an integer 'id'") from exc
    raw = payload.get("annotation")
    if raw is None:
        raise ValueError(f"{action} needs an 'annotation'")
    raw_list = raw if isinstance(raw, list) else [raw]
    tasks = payload.get("task")
    task_list = tasks if isinstance(tasks, list) else [tasks] * len(raw_list)
    out = []
    for i, entry in enumerate(raw_list):
        task = task_list[i] if i < len(task_list) else None
        task_id = task.get("id") if isinstance(task, dict) else None
        out.append(LsAnnotation.from_payload(entry, task_id=task_id))
    return action, out


def webhook_receive(*, body: bytes) -> tuple[WebhookEvent, bool]:
    """Validate and store a webhook call, then queue its processing; a repeated body is stored once.

    Returns the event and whether it is new. Raises ``ValueError`` for a malformed body (nothing stored).
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON: {exc}") from exc
    action, _ = webhook_payload_check(payload)
    digest = hashlib.sha256(body).hexdigest()
    existing = WebhookEvent.objects.filter(digest=digest).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(action=action[:40], digest=digest, payload=payload)
    except IntegrityError:
        return WebhookEvent.objects.get(digest=digest), False
    from annotate.tasks import webhook_event_process_task

    transaction.on_commit(lambda: webhook_event_process_task.delay(event.pk))
    return event, True


def webhook_event_process(*, event_id: int) -> IntakeReport:
    """Apply a stored webhook event. Idempotent: a processed event is not applied again."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    report = IntakeReport()
    if event is None or event.status != EventStatus.RECEIVED:
        return report
    try:
        action, parsed = webhook_payload_check(event.payload)
        if action == "ANNOTATIONS_DELETED":
            report.deleted = annotations_mark_deleted(annotation_ids=parsed)  # type: ignore[arg-type]
        elif action in ANNOTATION_ACTIONS:
            report = annotations_upsert(annotations=parsed)  # type: ignore[arg-type]
    except ValueError as exc:
        event.status, event.error = EventStatus.FAILED, str(exc)
    else:
        if report.unknown_tasks:
            event.status = EventStatus.UNKNOWN_TASK
            event.error = f"annotation(s) for Label Studio task(s) we did not push: {sorted(set(report.unknown_tasks))}"
        else:
            event.status = EventStatus.PROCESSED
            event.error = "; ".join(report.problems)
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "processed_at"])
    return report


# -- reconciliation -----------------------------------------------------------------------------------------


@dataclass
class ReconcileReport(IntakeReport):
    projects: int = 0
    deleted_projects: list[int] = field(default_factory=list)


RECONCILE_CHUNK = 500


def project_reconcile(*, project_id: int, client: LabelStudio | None = None) -> ReconcileReport:
    """Bring the database in line with one Label Studio project: every annotation in, deleted ones marked.

    Annotations are exported in chunks of our mapped tasks, two requests in flight while the previous chunk
    is stored, so Label Studio's export and our bulk upserts overlap. When Label Studio counts more annotations
    than the chunks held (annotations on tasks we did not push), a full export finds and reports them.
    """
    client = client or LabelStudio.from_settings()
    project = LabelStudioProject.objects.get(pk=project_id)
    report = ReconcileReport(projects=1)
    if project.label_studio_project_id is None or project.status != ProjectStatus.ACTIVE:
        return report
    ls_id = int(project.label_studio_project_id)
    mapped = sorted(
        int(t or 0)
        for t in project.tasks.exclude(label_studio_task_id=None).values_list("label_studio_task_id", flat=True)
    )
    seen: set[int] = set()
    try:
        expected = client.project_annotation_count(ls_id)
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(client.project_annotations, project_id=ls_id, task_ids=mapped[i : i + RECONCILE_CHUNK])
                for i in range(0, len(mapped), RECONCILE_CHUNK)
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


def annotations_reconcile(*, sample_id: int | None = None, client: LabelStudio | None = None) -> ReconcileReport:
    """Reconcile every active project (of one sample, or of all samples)."""
    projects = LabelStudioProject.objects.filter(status=ProjectStatus.ACTIVE).exclude(label_studio_project_id=None)
    if sample_id is not None:
        projects = projects.filter(sample_id=sample_id)
    report = ReconcileReport()
    if not projects.exists():  # nothing pushed yet: no need for a Label Studio at all
        return report
    client = client or LabelStudio.from_settings()
    for project_id in projects.order_by("pk").values_list("pk", flat=True):
        part = project_reconcile(project_id=project_id, client=client)
        report.merge(part)
        report.projects += part.projects
        report.deleted_projects += part.deleted_projects
    return report
