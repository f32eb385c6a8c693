"""Reads of the review loop: annotations as a DataFrame for the validation statistics, sample progress,
the outputs a lead should adjudicate, gold labels, and each reviewer's progress."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.conf import settings
from django.db.models import Case, Count, Exists, Func, Max, OuterRef, Q, QuerySet, TextField, Value, When

from annotate.consistency import label_key
from annotate.models import (
    Adjudication,
    Annotation,
    FlagRule,
    LabelStudioProject,
    ProjectStatus,
    ReviewFlag,
    ReviewItem,
    ReviewSample,
    Verdict,
)
from corpus.cache import cached_report
from extraction.models import Extraction

NOT_INDEPENDENT = "reviews not independent"

ANNOTATION_COLUMNS = [
    "item_id",
    "conversation_id",
    "feature",
    "annotator",
    "extraction_id",
    "model_labels",
    "verdict",
    "reasoning_check",
    "corrected_labels",
    "subjectivity_level",
    "comment",
    "lead_time_s",
]


def annotations_frame(*, sample_id: int, include_deleted: bool = False) -> pd.DataFrame:
    """One row per item x feature x annotator (the reviewer's latest judgement), identities kept."""
    rows = Annotation.objects.filter(item__sample_id=sample_id)
    if not include_deleted:
        rows = rows.filter(deleted=False)
    data = rows.order_by("item__position", "feature", "annotator__email").values_list(
        "item_id",
        "item__conversation_id",
        "feature",
        "annotator__email",
        "extraction_id",
        "extraction__labels",
        "verdict",
        "reasoning_check",
        "corrected_labels",
        "subjectivity_level",
        "comment",
        "lead_time_s",
    )
    return pd.DataFrame(list(data), columns=ANNOTATION_COLUMNS)


def sample_list() -> QuerySet[ReviewSample]:
    return ReviewSample.objects.annotate(
        item_count=Count("items", distinct=True),
        annotation_count=Count("items__annotations", filter=Q(items__annotations__deleted=False), distinct=True),
    ).order_by("-created_at")


def sample_projects(*, sample_id: int) -> QuerySet[LabelStudioProject]:
    return (
        LabelStudioProject.objects.filter(sample_id=sample_id)
        .select_related("annotator")
        .annotate(
            task_count=Count("tasks", distinct=True),
            pushed_count=Count("tasks", filter=Q(tasks__label_studio_task_id__isnull=False), distinct=True),
        )
        .order_by("pk")
    )


# ------------------------------------------------------------------------------------------ review checks


@dataclass(frozen=True)
class OutputReviews:
    """One machine output with its live reviews summed up, for the adjudication list."""

    extraction_id: int
    conversation_id: int
    external_id: str
    feature: str
    n_reviews: int
    n_correct: int
    verdicts_differ: bool
    labels_differ: bool
    flags: tuple[str, ...]
    adjudicated: str | None

    @property
    def majority(self) -> str:
        return "correct" if self.n_correct * 2 > self.n_reviews else "not correct"

    @property
    def reasons(self) -> list[str]:
        """Why the output is listed, one phrase per reason (a rule broken by several reviews is named once)."""
        out = ["verdicts differ"] * self.verdicts_differ + ["labels differ"] * self.labels_differ
        for rule in sorted(set(self.flags)):
            n = self.flags.count(rule)
            out.append(f"{FlagRule(rule).label.lower()}" + (f" ({n} reviews)" if n > 1 else ""))
        return out


def _reviewer_key(verdict: str, corrected: list[str] | None, machine: list[str]) -> tuple[str, ...] | None:
    """The labels a reviewer stands by: their correction, else the model's when judged correct, else unknown."""
    if corrected is not None:
        return label_key(corrected)
    return label_key(machine) if verdict == Verdict.CORRECT else None


class LabelKey(Func):
    """The database's ``consistency.label_key`` of a JSON list of labels (not NULL): its entries trimmed and
    lower-cased, without blanks or repeats, sorted and joined by U+001F into one text ("" for an empty list). Two
    reviewers' corrections differ exactly when their keys do, so the database tells which outputs are disputed
    without sending every review to Python."""

    arity = 1
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # Sorted by code point (collation "C"), as Python sorts, whatever the database's collation.
        folded = "lower(btrim(x, E' \\t\\n\\r')) COLLATE \"C\""
        template = (
            f"(SELECT COALESCE(string_agg(DISTINCT {folded}, chr(31) ORDER BY {folded}), '')"
            " FROM jsonb_array_elements_text(%(expressions)s) AS x WHERE btrim(x, E' \\t\\n\\r') <> '')"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # SQLite's lower() folds ASCII only: there the key is Python's own (registered by ``sqlite_functions_add``).
        return self.as_sql(compiler, connection, template="label_key_text(%(expressions)s)", **extra_context)


def _label_key_text(value: str | None) -> str | None:
    if value is None:
        return None
    return "\x1f".join(label_key(json.loads(value)) or ())


def sqlite_functions_add(*, sender: Any, connection: Any, **kwargs: Any) -> None:
    """Registers ``label_key_text`` on a new SQLite connection (``connection_created``, see ``AnnotateConfig``)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("label_key_text", 1, _label_key_text, deterministic=True)


def _reviews_in_scope(*, run_id: int | None, sample_id: int | None) -> QuerySet[Annotation]:
    rows = Annotation.objects.filter(deleted=False).exclude(verdict="")
    if run_id is not None:
        rows = rows.filter(item__sample__run_id=run_id)
    if sample_id is not None:
        rows = rows.filter(item__sample_id=sample_id)
    return rows


def _disputed_outputs(*, run_id: int | None, sample_id: int | None) -> QuerySet[Extraction]:
    """The outputs the adjudication list holds, found by the database: verdicts differ, two corrections differ, or a
    review is flagged. A correction that differs from the model's labels while another reviewer accepted them needs
    no test of its own: its reviewer said either "incorrect" (the verdicts differ) or "correct" (flagged: correct but
    changed). Each part reads only the reviews it needs (an output with two verdicts has a review that is not
    "correct"; only corrected reviews have a correction), so that the list stays cheap with thousands of reviews."""
    rows = _reviews_in_scope(run_id=run_id, sample_id=sample_id)
    other_verdict = rows.filter(extraction_id=OuterRef("extraction_id")).exclude(verdict=OuterRef("verdict"))
    split = rows.exclude(verdict=Verdict.CORRECT).filter(Exists(other_verdict)).values("extraction_id")
    corrected = rows.filter(corrected_labels__isnull=False)
    # Corrections stored alike agree: the keys are worked out only where two differ as stored.
    stored_apart = (
        corrected.values("extraction_id")
        .annotate(stored=Count("corrected_labels", distinct=True))
        .filter(stored__gt=1)
        .values("extraction_id")
    )
    relabelled = (
        corrected.filter(extraction_id__in=stored_apart)
        .values("extraction_id")
        .annotate(corrections=Count(LabelKey("corrected_labels"), distinct=True))
        .filter(corrections__gt=1)
        .values("extraction_id")
    )
    flagged = ReviewFlag.objects.filter(annotation__in=rows).values("annotation__extraction_id")
    return Extraction.objects.filter(pk__in=split.union(relabelled, flagged))


def adjudication_outputs(*, run_id: int | None = None, sample_id: int | None = None) -> QuerySet[Extraction]:
    """The adjudication list as a query, in its order: unsettled first, then by conversation and feature. Slice it
    for a page and pass the ids to ``adjudication_entries``; ``adjudication_counts`` gives its size."""
    return _disputed_outputs(run_id=run_id, sample_id=sample_id).order_by(
        Case(When(adjudication__isnull=True, then=Value(0)), default=Value(1)),
        "conversation__external_id",
        "feature",
        "pk",
    )


def adjudication_counts(*, run_id: int | None = None, sample_id: int | None = None) -> tuple[int, int]:
    """(outputs listed, outputs still waiting for the lead), counted by the database in one query."""
    found = _disputed_outputs(run_id=run_id, sample_id=sample_id).aggregate(
        listed=Count("pk"), open=Count("pk", filter=Q(adjudication__isnull=True))
    )
    return found["listed"], found["open"]


def adjudication_entries(
    *, extraction_ids: list[int], run_id: int | None = None, sample_id: int | None = None
) -> list[OutputReviews]:
    """The listed outputs ``extraction_ids`` (a page of ``adjudication_outputs``) with their reviews in scope summed
    up, in the order given."""
    rows = _reviews_in_scope(run_id=run_id, sample_id=sample_id).filter(extraction_id__in=extraction_ids)
    by_output: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows.values_list(
        "extraction_id",
        "extraction__conversation_id",
        "extraction__conversation__external_id",
        "feature",
        "verdict",
        "corrected_labels",
        "extraction__labels",
        "pk",
    ):
        by_output[row[0]].append(row)
    flags: dict[int, list[str]] = defaultdict(list)
    for extraction_id, rule in ReviewFlag.objects.filter(annotation__in=rows).values_list(
        "annotation__extraction_id", "rule"
    ):
        flags[extraction_id].append(rule)
    decided = adjudicated_verdicts(extraction_ids=list(by_output))
    entries = []
    for extraction_id in extraction_ids:
        reviews = by_output.get(extraction_id)
        if not reviews:
            continue
        verdicts = {r[4] for r in reviews}
        keys = {k for r in reviews if (k := _reviewer_key(r[4], r[5], r[6] or [])) is not None}
        entries.append(
            OutputReviews(
                extraction_id=extraction_id,
                conversation_id=reviews[0][1],
                external_id=reviews[0][2],
                feature=reviews[0][3],
                n_reviews=len(reviews),
                n_correct=sum(r[4] == Verdict.CORRECT for r in reviews),
                verdicts_differ=len(verdicts) > 1,
                labels_differ=len(keys) > 1,
                flags=tuple(sorted(flags.get(extraction_id, []))),
                adjudicated=decided.get(extraction_id),
            )
        )
    return entries


def adjudication_next_open(*, run_id: int | None, after: int) -> int | None:
    """The first output of the list (of one run, or of every run) still waiting for the lead, other than ``after``."""
    following = adjudication_outputs(run_id=run_id).filter(adjudication__isnull=True).exclude(pk=after)
    return following.values_list("pk", flat=True).first()


def adjudication_queue(*, run_id: int | None = None, sample_id: int | None = None) -> list[OutputReviews]:
    """Outputs where reviewers disagree (on the verdict or on the labels) or a review is flagged, in the scope of
    one extraction run or one review sample (everything when neither is given): unsettled first. The whole list;
    a page reads one slice of ``adjudication_outputs`` instead."""
    ids = list(adjudication_outputs(run_id=run_id, sample_id=sample_id).values_list("pk", flat=True))
    return adjudication_entries(extraction_ids=ids, run_id=run_id, sample_id=sample_id)


def flag_counts(*, run_id: int | None = None) -> dict[str, int]:
    """Flags on live reviews, per rule (every rule listed, zero included), in one run's samples or everywhere."""
    flags = ReviewFlag.objects.filter(annotation__deleted=False)
    if run_id is not None:
        flags = flags.filter(annotation__item__sample__run_id=run_id)
    counts = dict(flags.values_list("rule").annotate(n=Count("pk")).values_list("rule", "n"))
    return {rule: counts.get(rule, 0) for rule in FlagRule.values}


def adjudicated_verdicts(*, extraction_ids: Iterable[int] | None = None) -> dict[int, str]:
    """The lead's verdict per adjudicated machine output (extraction id -> "correct" / "incorrect")."""
    qs = Adjudication.objects.all()
    if extraction_ids is not None:
        qs = qs.filter(extraction_id__in=list(extraction_ids))
    return dict(qs.values_list("extraction_id", "verdict"))


def output_reviews(*, extraction_id: int) -> list[Annotation]:
    """The live reviews of one machine output, with their reviewer and flags, oldest first."""
    return list(
        Annotation.objects.filter(extraction_id=extraction_id, deleted=False)
        .select_related("annotator")
        .prefetch_related("flags")
        .order_by("created_at", "pk")
    )


# -------------------------------------------------------------------------------------------- gold labels


@dataclass(frozen=True)
class GoldLabel:
    """The labels taken as true for one (conversation, feature)."""

    labels: tuple[str, ...]
    source: str  # "adjudicated" or "majority"
    n_reviews: int
    level: int | None = None


def _majority_gold(reviews: list[tuple[Any, ...]]) -> GoldLabel | None:
    latest: dict[int, tuple[Any, ...]] = {}
    for row in reviews:  # one review per annotator: the latest, when they judged several prompt versions' outputs
        latest[row[0]] = row
    votes: dict[tuple[str, ...], int] = defaultdict(int)
    levels: dict[int, int] = defaultdict(int)
    for _, verdict, corrected, machine, level, machine_level in latest.values():
        key = _reviewer_key(verdict, corrected, machine or [])
        if key is not None:
            votes[key] += 1
        stood_by = level if level is not None else machine_level if verdict == Verdict.CORRECT else None
        if stood_by is not None:
            levels[stood_by] += 1
    n = len(latest)
    winner = next((key for key, count in votes.items() if count * 2 > n), None)
    if winner is None:
        return None
    level = next((lv for lv, count in levels.items() if count * 2 > n), None)
    return GoldLabel(labels=winner, source="majority", n_reviews=n, level=level)


def gold_labels(
    *,
    run_id: int | None = None,
    conversation_ids: Iterable[int] | None = None,
    features: Iterable[str] | None = None,
) -> dict[tuple[int, str], GoldLabel]:
    """Gold labels per (conversation id, feature): the lead's adjudicated labels where an output of that
    conversation and feature was adjudicated, else the labels a strict majority of its reviewers accepted
    (judged the model's labels correct) or corrected to. Pairs with no such majority are left out.

    Returns ``{(conversation_id, feature): GoldLabel(labels, source, n_reviews, level)}`` where ``labels`` is a
    sorted tuple of lower-cased labels (empty for "none"), ``source`` is ``"adjudicated"`` or ``"majority"``,
    ``n_reviews`` counts the reviewers (one review per reviewer: their latest) and ``level`` is the subjectivity
    level 1-4 when the lead or a majority gave one (else None). Reviews of every prompt version count: a
    reviewer's labels describe the conversation, not the prompt. ``run_id`` limits to that run's conversations.
    """
    rows = Annotation.objects.filter(deleted=False).exclude(verdict="")
    adjudications = Adjudication.objects.all()
    if run_id is not None:
        conversations = ReviewItem.objects.filter(sample__run_id=run_id).values("conversation_id")
        rows = rows.filter(extraction__conversation_id__in=conversations)
        adjudications = adjudications.filter(extraction__conversation_id__in=conversations)
    if conversation_ids is not None:
        ids = list(conversation_ids)
        rows = rows.filter(extraction__conversation_id__in=ids)
        adjudications = adjudications.filter(extraction__conversation_id__in=ids)
    if features is not None:
        names = list(features)
        rows = rows.filter(feature__in=names)
        adjudications = adjudications.filter(extraction__feature__in=names)
    grouped: dict[tuple[int, str], list[tuple[Any, ...]]] = defaultdict(list)
    for conversation_id, feature, *review in rows.order_by("updated_at", "pk").values_list(
        "extraction__conversation_id",
        "feature",
        "annotator_id",
        "verdict",
        "corrected_labels",
        "extraction__labels",
        "subjectivity_level",
        "extraction__level",
    ):
        grouped[(conversation_id, feature)].append(tuple(review))
    gold: dict[tuple[int, str], GoldLabel] = {}
    for key, reviews in grouped.items():
        majority = _majority_gold(reviews)
        if majority is not None:
            gold[key] = majority
    for a in adjudications.select_related("extraction").order_by("decided_at", "pk"):
        labels = a.labels if a.verdict != Verdict.CORRECT or a.labels is not None else a.extraction.labels
        level = a.level if a.level is not None else a.extraction.level if a.verdict == Verdict.CORRECT else None
        n = len({r[0] for r in grouped.get((a.extraction.conversation_id, a.extraction.feature), [])})
        gold[(a.extraction.conversation_id, a.extraction.feature)] = GoldLabel(
            labels=label_key(labels or []) or (), source="adjudicated", n_reviews=n, level=level
        )
    return gold


def reviewed_pairs(*, run_id: int, features: Iterable[str] | None = None) -> set[tuple[int, str]]:
    """Every (conversation id, feature) with a live review with a verdict, among the conversations sampled for
    review in run ``run_id`` (any prompt version's output): the pairs :func:`gold_labels` may leave out."""
    conversations = ReviewItem.objects.filter(sample__run_id=run_id).values("conversation_id")
    rows = Annotation.objects.filter(deleted=False, extraction__conversation_id__in=conversations).exclude(verdict="")
    if features is not None:
        rows = rows.filter(feature__in=list(features))
    return set(rows.values_list("extraction__conversation_id", "feature").distinct())


# --------------------------------------------------------------------------------------- reviewer progress


@dataclass(frozen=True)
class ReviewerProgress:
    """One reviewer's queue in one review sample."""

    annotator_id: int
    email: str
    sample_id: int
    assigned: int
    done: int
    median_seconds: float | None
    queue_url: str | None


def _reviews_done(*, project_ids: list[int]) -> dict[int, tuple[int, float | None]]:
    """Per project: tasks with a live review, and the median seconds per reviewed task (None when none is known)."""
    live = Annotation.objects.filter(task__project__in=project_ids, deleted=False)
    done_by_project = dict(
        live.values("task__project_id").annotate(n=Count("task_id", distinct=True)).values_list("task__project_id", "n")
    )
    times_by_project: dict[int, dict[int, float]] = defaultdict(dict)
    # A Label Studio annotation is stored as one row per feature, each with the annotation's lead time.
    for project_id, annotation_id, seconds in (
        live.exclude(lead_time_s=None).values_list("task__project_id", "label_studio_annotation_id", "lead_time_s")
    ).distinct():
        if seconds is not None:
            times_by_project[project_id][annotation_id] = float(seconds)
    out = {}
    for project_id in project_ids:
        known = list(times_by_project[project_id].values())
        out[project_id] = (done_by_project.get(project_id, 0), float(statistics.median(known)) if known else None)
    return out


def reviewer_progress(
    *, sample_id: int | None = None, annotator_id: int | None = None, user_id: int | None = None
) -> list[ReviewerProgress]:
    """Per reviewer and sample: tasks done (with a live review) of tasks assigned, the median seconds per done
    task (Label Studio's lead time of each annotation), and the reviewer's Label Studio queue (project URL)."""
    projects = LabelStudioProject.objects.select_related("annotator").order_by("sample_id", "annotator__email")
    if sample_id is not None:
        projects = projects.filter(sample_id=sample_id)
    if annotator_id is not None:
        projects = projects.filter(annotator_id=annotator_id)
    if user_id is not None:
        projects = projects.filter(annotator__user_id=user_id)
    projects_list = list(projects.annotate(assigned=Count("tasks", distinct=True)))
    ids = [p.pk for p in projects_list]
    # Read from every review of the projects (18,000 at the paper's scale): kept until a review changes.
    figures = cached_report(
        name=f"reviewer-progress-{ids}", version=review_data_version(), compute=lambda: _reviews_done(project_ids=ids)
    )
    out = []
    base = settings.LABEL_STUDIO_URL.rstrip("/")
    for project in projects_list:
        done, median = figures.get(project.pk, (0, None))
        ls_id = project.label_studio_project_id
        out.append(
            ReviewerProgress(
                annotator_id=project.annotator_id,
                email=project.annotator.email,
                sample_id=project.sample_id,
                assigned=project.assigned,  # type: ignore[attr-defined]
                done=done,
                median_seconds=median,
                queue_url=f"{base}/projects/{ls_id}/data" if ls_id else None,
            )
        )
    return out


@dataclass(frozen=True)
class Independence:
    """Whether Label Studio kept the reviewers of a sample (or run) apart, and which projects it did not."""

    independent: bool
    not_independent: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """One line for a sample's status and an agreement report."""
        if not self.independent:
            return (
                f"{NOT_INDEPENDENT}: {len(self.not_independent)} Label Studio project(s) can be opened by every "
                "reviewer (a Label Studio the app does not manage): " + ", ".join(self.not_independent)
            )
        return "blind: each reviewer works in a Label Studio organization of their own"

    def as_dict(self) -> dict[str, object]:
        return {
            "independent": self.independent,
            "status": self.status,
            "not_independent_projects": self.not_independent,
            "drifted_projects": self.drifted,
        }


def _independence(projects: QuerySet[LabelStudioProject]) -> Independence:
    rows = list(projects.exclude(label_studio_project_id=None).values_list("title", "independent", "status"))
    return Independence(
        independent=all(independent for _, independent, _ in rows),
        not_independent=sorted(title for title, independent, _ in rows if not independent),
        drifted=sorted(title for title, _, status in rows if status == ProjectStatus.DRIFTED),
    )


def sample_independence(*, sample_id: int) -> Independence:
    """Independence of a sample's reviews (pushed projects only)."""
    return _independence(LabelStudioProject.objects.filter(sample_id=sample_id))


def run_independence(*, run_id: int) -> Independence:
    """Independence of the reviews of every sample drawn from an extraction run (for its agreement report)."""
    return _independence(LabelStudioProject.objects.filter(sample__run_id=run_id))


def review_data_version() -> tuple[Any, ...]:
    """Changes when a review is added, deleted (tombstoned) or brought back: for the key of a cached read of which
    conversations were reviewed. One aggregate over the reviews (thousands of rows, not millions)."""
    found = Annotation.objects.aggregate(
        newest=Max("pk"), live=Count("pk", filter=Q(deleted=False)), total=Count("pk"), updated=Max("updated_at")
    )
    return tuple(sorted(found.items()))
