"""Consistency checks of reviews: each rule on its own, at intake (flags follow the latest copy), and the backfill."""

from __future__ import annotations

from django.apps import apps

from annotate import consistency
from annotate.consistency import ReviewFacts, review_flags
from annotate.label_studio import LsAnnotation
from annotate.labeling_config import FeatureReview, review_result
from annotate.models import Annotation, FlagRule, LabelStudioTask, ReviewFlag
from annotate.services import annotations_mark_deleted, annotations_upsert, review_sample_assign, review_sample_create
from annotate.services.samples import annotator_get_or_create
from tests.annotate.factories import run_with_extractions
from tests.validation import factories as f


def _rules(**facts: object) -> list[str]:
    base: dict[str, object] = {"verdict": "correct", "corrected_labels": None, "comment": "", "machine_labels": ["a"]}
    return [flag.rule for flag in review_flags(ReviewFacts(**{**base, **facts}))]  # type: ignore[arg-type]


def test_correct_while_changing_the_labels_is_flagged() -> None:
    assert _rules(corrected_labels=["b"]) == [consistency.CORRECT_BUT_CHANGED]
    assert _rules(corrected_labels=["A "]) == [], "same labels, other case and blanks: no change"
    assert _rules(corrected_labels=None) == [], "no labels submitted: nothing changed"
    assert _rules(machine_labels=["yes"], corrected_labels=["yes"], machine_level=4, reviewer_level=3) == [
        consistency.CORRECT_BUT_CHANGED
    ], "subjectivity: another level is a change even on the same side"
    assert _rules(machine_labels=["yes"], corrected_labels=["yes"], machine_level=None, reviewer_level=3) == []


def test_incorrect_without_a_correction_or_a_comment_is_flagged() -> None:
    assert _rules(verdict="incorrect") == [consistency.INCORRECT_UNEXPLAINED]
    assert _rules(verdict="incorrect", corrected_labels=["a"]) == [consistency.INCORRECT_UNEXPLAINED], (
        "the model's labels resubmitted are no correction"
    )
    assert _rules(verdict="incorrect", corrected_labels=["b"]) == []
    assert _rules(verdict="incorrect", comment="misses care") == []


def test_a_review_of_an_unparsable_output_is_flagged() -> None:
    assert _rules(output_status="parse_error", machine_labels=[]) == [consistency.UNPARSABLE_OUTPUT]
    assert _rules(output_status="failed", machine_labels=[], verdict="incorrect") == [
        consistency.UNPARSABLE_OUTPUT,
        consistency.INCORRECT_UNEXPLAINED,
    ]


def test_every_rule_name_is_a_stored_choice() -> None:
    names = {consistency.CORRECT_BUT_CHANGED, consistency.INCORRECT_UNEXPLAINED, consistency.UNPARSABLE_OUTPUT}
    assert names == set(FlagRule.values)


def _annotation(n: int, review: FeatureReview, updated_at: str) -> LsAnnotation:
    return LsAnnotation(
        annotation_id=10 + n,
        task_id=100 + n,
        completed_by=None,
        result=review_result(review),
        lead_time=5.0,
        updated_at=updated_at,
        was_cancelled=False,
    )


def test_intake_flags_a_review_and_drops_the_flag_when_the_review_is_mended(db: None) -> None:
    run = run_with_extractions(1, features=["response_type"])  # the model said mild_support
    sample = review_sample_create(run_id=run.pk, strategy="random", size=1, seed=1, features=["response_type"])
    review_sample_assign(
        sample_id=sample.pk, annotator_ids=[annotator_get_or_create(email="rev@example.org").pk], reviewers_per_item=1
    )
    LabelStudioTask.objects.update(label_studio_task_id=100)
    contradiction = FeatureReview(feature="response_type", verdict="correct", labels=["strong_support"])
    annotations_upsert(annotations=[_annotation(0, contradiction, "2026-01-01T00:00:00+00:00")])
    flag = ReviewFlag.objects.get()
    assert (flag.rule, flag.reason) == (
        FlagRule.CORRECT_BUT_CHANGED,
        "says correct but changes the output (labels mild_support -> strong_support)",
    )
    mended = FeatureReview(feature="response_type", verdict="incorrect", labels=["strong_support"])
    annotations_upsert(annotations=[_annotation(0, mended, "2026-01-02T00:00:00+00:00")])
    assert not ReviewFlag.objects.exists()
    annotations_upsert(annotations=[_annotation(0, contradiction, "2026-01-03T00:00:00+00:00")])
    assert ReviewFlag.objects.count() == 1
    annotations_mark_deleted(annotation_ids=[10])
    assert not ReviewFlag.objects.exists(), "a deleted review keeps no flag"


def test_the_migration_flags_reviews_stored_before_the_checks(db: None) -> None:
    from importlib import import_module

    backfill = import_module("annotate.migrations.0007_flag_existing_reviews")
    item = f.ReviewItemFactory.create()
    values = f.ExtractionFactory.create(conversation=item.conversation, labels=["empathy"])
    f.review(item=item, extraction=values, annotator=f.AnnotatorFactory.create(), verdict="correct")
    f.review(item=item, extraction=values, annotator=f.AnnotatorFactory.create(), verdict="incorrect")
    f.review(
        item=item,
        extraction=values,
        annotator=f.AnnotatorFactory.create(),
        verdict="correct",
        corrected_labels=["care"],
    )
    f.review(item=item, extraction=values, annotator=f.AnnotatorFactory.create(), verdict="incorrect", deleted=True)
    assert not ReviewFlag.objects.exists()
    backfill.flag_existing(apps, None)
    flagged = sorted(ReviewFlag.objects.values_list("rule", flat=True))
    assert flagged == [FlagRule.CORRECT_BUT_CHANGED, FlagRule.INCORRECT_UNEXPLAINED]
    assert Annotation.objects.filter(flags__isnull=False, deleted=True).count() == 0
