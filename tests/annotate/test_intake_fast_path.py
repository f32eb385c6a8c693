"""Intake of fast-path reviews (accept-all) and of reviews from a form changed in Label Studio."""

from __future__ import annotations

from annotate import labeling_config, services
from annotate.label_studio import LsAnnotation
from annotate.models import Annotation, LabelStudioTask, ProjectStatus
from tests.annotate.factories import run_with_extractions


def _sample_with_tasks() -> list[LabelStudioTask]:
    run = run_with_extractions(2)
    sample = services.review_sample_create(
        run_id=run.pk, strategy="random", size=2, seed=3, features=["ai_values", "subjectivity"]
    )
    ada = services.annotator_get_or_create(email="reviewer-ada@example.org")
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[ada.pk], reviewers_per_item=1)
    links = list(LabelStudioTask.objects.order_by("pk"))
    for n, link in enumerate(links):
        link.label_studio_task_id = 100 + n
        link.save()
    return links


def _annotation(annotation_id: int, task_id: int, result: list[dict[str, object]]) -> LsAnnotation:
    return LsAnnotation(
        annotation_id=annotation_id,
        task_id=task_id,
        completed_by=None,
        result=result,  # type: ignore[arg-type]
        lead_time=3.0,
        updated_at="2026-01-01T00:00:00Z",
        was_cancelled=False,
    )


def test_accept_all_on_the_prefilled_form_is_stored_as_correct_and_unedited_per_feature(db: None) -> None:
    link = _sample_with_tasks()[0]
    outputs = {
        e.feature: labeling_config.FeatureOutput(e.feature, list(e.labels or []))
        for e in link.item.conversation.extractions.filter(feature__in=["ai_values", "subjectivity"])
    }
    prefill = labeling_config.prediction_result(outputs.values())
    edited = [r for r in prefill if r["from_name"] != "ai_values_labels"] + [
        {"from_name": "ai_values_labels", "to_name": "dialogue", "type": "textarea", "value": {"text": ["thrift"]}}
    ]
    services.annotations_upsert(
        annotations=[
            _annotation(1, int(link.label_studio_task_id or 0), [*labeling_config.accept_all_result(), *prefill]),
        ]
    )
    rows = {a.feature: a for a in Annotation.objects.all()}
    assert {f: (r.verdict, r.reasoning_check, r.accepted_all, r.labels_edited) for f, r in rows.items()} == {
        "ai_values": ("correct", "sound", True, False),
        "subjectivity": ("correct", "sound", True, False),
    }
    assert rows["ai_values"].corrected_labels == outputs["ai_values"].labels
    services.annotations_upsert(
        annotations=[
            LsAnnotation(
                annotation_id=1,
                task_id=int(link.label_studio_task_id or 0),
                completed_by=None,
                result=[*labeling_config.accept_all_result(), *edited],
                lead_time=3.0,
                updated_at="2026-01-02T00:00:00Z",
                was_cancelled=False,
            )
        ]
    )
    assert Annotation.objects.get(feature="ai_values").labels_edited is True, "changed while saying all correct"


def test_reviews_from_a_drifted_project_are_not_read(db: None) -> None:
    link = _sample_with_tasks()[0]
    link.project.status = ProjectStatus.DRIFTED
    link.project.save()
    result = labeling_config.review_result(labeling_config.FeatureReview(feature="ai_values", verdict="correct"))
    report = services.annotations_upsert(annotations=[_annotation(7, int(link.label_studio_task_id or 0), result)])
    assert report.created == 0
    assert "labeling config was changed in Label Studio" in report.problems[0]
    assert not Annotation.objects.exists()
