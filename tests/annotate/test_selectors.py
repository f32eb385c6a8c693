"""Annotations as a DataFrame for the validation statistics: one row per item x feature x annotator."""

from __future__ import annotations

from annotate import selectors, services
from annotate.label_studio import LsAnnotation
from annotate.labeling_config import FeatureReview, review_result
from annotate.models import LabelStudioTask
from tests.annotate.factories import run_with_extractions


def test_annotations_frame_keeps_identities_and_the_model_output(db: None) -> None:
    run = run_with_extractions(2)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=3, features=["ai_values"])
    ada = services.annotator_get_or_create(email="reviewer-ada@example.org")
    grace = services.annotator_get_or_create(email="reviewer-grace@example.org")
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[ada.pk, grace.pk], reviewers_per_item=2)
    for n, link in enumerate(LabelStudioTask.objects.order_by("pk")):
        link.label_studio_task_id = 100 + n
        link.save()
    verdicts = ["correct", "incorrect", "correct", "correct"]
    annotations = [
        LsAnnotation(
            annotation_id=10 + n,
            task_id=100 + n,
            completed_by=None,
            result=review_result(FeatureReview(feature="ai_values", verdict=verdict)),
            lead_time=4.0,
            updated_at="2026-01-01T00:00:00Z",
            was_cancelled=False,
        )
        for n, verdict in enumerate(verdicts)
    ]
    report = services.annotations_upsert(annotations=annotations)
    assert (report.created, report.unknown_tasks) == (4, [])
    frame = selectors.annotations_frame(sample_id=sample.pk)
    assert len(frame) == 4
    assert sorted(frame["annotator"].unique()) == ["reviewer-ada@example.org", "reviewer-grace@example.org"]
    assert frame.groupby("item_id")["annotator"].nunique().eq(2).all(), "each item by both reviewers"
    assert sorted(frame["verdict"]) == sorted(verdicts)
    assert frame["model_labels"].map(tuple).isin([("helpfulness", "honesty"), ("user autonomy",)]).all()


def _pushed_sample(independent: list[bool]) -> int:
    run = run_with_extractions(2)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=3, features=["ai_values"])
    ids = [services.annotator_get_or_create(email=f"r{i}@example.org").pk for i in range(len(independent))]
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=ids, reviewers_per_item=len(ids))
    for n, (project, flag) in enumerate(zip(sample.projects.order_by("pk"), independent, strict=True)):
        project.label_studio_project_id = 500 + n
        project.independent = flag
        project.save()
    return sample.pk


def test_a_sample_pushed_to_a_shared_label_studio_says_reviews_not_independent(db: None) -> None:
    sample_id = _pushed_sample([True, False])
    status = selectors.sample_independence(sample_id=sample_id)
    assert not status.independent
    assert status.status.startswith("reviews not independent: 1 Label Studio project(s)")
    (title,) = status.not_independent
    assert "r1" in title
    run_id = LabelStudioTask.objects.filter(project__sample_id=sample_id).first().project.sample.run_id  # type: ignore[union-attr]
    assert selectors.run_independence(run_id=run_id).as_dict()["independent"] is False


def test_a_blind_sample_says_so(db: None) -> None:
    status = selectors.sample_independence(sample_id=_pushed_sample([True, True]))
    assert status.independent
    assert status.status.startswith("blind:")


def test_reviewer_progress_follows_a_review_changed_in_label_studio(db: None) -> None:
    run = run_with_extractions(2)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=3, features=["ai_values"])
    ada = services.annotator_get_or_create(email="reviewer-ada@example.org")
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[ada.pk], reviewers_per_item=1)
    for n, link in enumerate(LabelStudioTask.objects.order_by("pk")):
        link.label_studio_task_id = 100 + n
        link.save()

    def copy(n: int, seconds: float, updated_at: str) -> LsAnnotation:
        result = review_result(FeatureReview(feature="ai_values", verdict="correct"))
        return LsAnnotation(10 + n, 100 + n, None, result, seconds, updated_at, False)

    services.annotations_upsert(
        annotations=[copy(0, 4.0, "2026-01-01T00:00:00Z"), copy(1, 8.0, "2026-01-01T00:00:00Z")]
    )
    before = selectors.review_data_version()
    assert [(p.done, p.median_seconds) for p in selectors.reviewer_progress(sample_id=sample.pk)] == [(2, 6.0)]
    # The reviewer reopens the second task in Label Studio: a newer copy, stored in place (same rows).
    services.annotations_upsert(annotations=[copy(1, 20.0, "2026-01-02T00:00:00Z")])
    assert selectors.review_data_version() != before
    assert [(p.done, p.median_seconds) for p in selectors.reviewer_progress(sample_id=sample.pk)] == [(2, 12.0)]
