"""The review loop against a real Label Studio (started once per session) and our app on a live server.

Label Studio calls our webhook endpoint on the live server, exactly as in production.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

import httpx
import pytest

from annotate import services
from annotate.label_studio import LabelStudio, LabelStudioUnavailableError
from annotate.labeling_config import FeatureReview, review_result
from annotate.local_server import LocalLabelStudio
from annotate.models import Annotation, Annotator, LabelStudioProject, LabelStudioTask, ProjectStatus, WebhookEvent
from annotate.services import push
from annotate.webhook_auth import project_secret
from tests.annotate.factories import run_with_extractions

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

WEBHOOK_PATH = "/api/annotate/webhooks/label-studio/"


def _unique_emails(n: int) -> list[str]:
    # The session's Label Studio outlives each test's database: new people per test.
    tag = uuid.uuid4().hex[:6]
    return [f"reviewer-{tag}-{i}@example.org" for i in range(n)]


def _people(label_studio: LabelStudio, n: int) -> tuple[list[int], dict[int, LabelStudio]]:
    ids, clients = [], {}
    for email in _unique_emails(n):
        annotator = services.annotator_get_or_create(email=email)
        clients[annotator.pk] = services.annotator_link_label_studio(
            annotator_id=annotator.pk, password=secrets.token_urlsafe(12), client=label_studio
        )
        ids.append(annotator.pk)
    return ids, clients


def _review(i: int, feature: str) -> FeatureReview:
    if feature == "response_type":
        return FeatureReview(
            feature=feature,
            verdict="incorrect" if i % 2 else "correct",
            reasoning_check="over_inferring" if i % 2 else "sound",
            labels=["neutral_acknowledgment"] if i % 2 else ["mild_support"],
            comment=f"review {i}",
        )
    if feature == "subjectivity":
        return FeatureReview(feature=feature, verdict="correct", subjectivity_level=3 + i % 2)
    return FeatureReview(feature=feature, verdict="correct", reasoning_check="sound", labels=["helpfulness"])


def _expected_rows(review: FeatureReview) -> tuple[Any, ...]:
    labels = review.labels
    if review.feature == "subjectivity":
        labels = ["yes"]
    return (review.verdict, review.reasoning_check, tuple(labels or ()), review.subjectivity_level, review.comment)


def _db_state() -> dict[tuple[int, str], tuple[Any, ...]]:
    return {
        (a.label_studio_annotation_id, a.feature): (
            a.annotator.email,
            a.item_id,
            (a.verdict, a.reasoning_check, tuple(a.corrected_labels or ()), a.subjectivity_level, a.comment),
        )
        for a in Annotation.objects.filter(deleted=False).select_related("annotator")
    }


@pytest.mark.django_db(transaction=True)
def test_webhooks_and_reconciliation_bring_exactly_the_annotations_made_in_label_studio(
    label_studio: LabelStudio, live_server: Any, settings: Any
) -> None:
    secret = secrets.token_urlsafe(16)
    webhook_url = f"{live_server.url}{WEBHOOK_PATH}"
    settings.LABEL_STUDIO_WEBHOOK_SECRET = secret
    settings.LABEL_STUDIO_WEBHOOK_URL = webhook_url

    run = run_with_extractions(100)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=100, seed=11)
    annotator_ids, as_user = _people(label_studio, 3)
    assert services.review_sample_assign(sample_id=sample.pk, annotator_ids=annotator_ids, reviewers_per_item=2) == 200

    report = services.sample_push(sample_id=sample.pk, client=label_studio, batch_size=64)
    assert report.pushed == 200

    # 200 tasks in Label Studio, each with the item id we map it by and the model's prediction.
    version = push._model_version(sample, push._sample_features(sample))
    assert version.startswith("paper-v1@")
    ls_tasks: dict[int, list[dict[str, Any]]] = {}
    for project in LabelStudioProject.objects.filter(sample=sample):
        tasks = label_studio.project_tasks(project_id=int(project.label_studio_project_id or 0))
        ls_tasks[project.annotator_id] = tasks
        ours = dict(project.tasks.values_list("label_studio_task_id", "item_id"))
        assert {t["id"]: t["data"]["item_id"] for t in tasks} == ours
        for task in tasks:
            (prediction,) = task["predictions"]
            assert prediction["model_version"] == version
            assert {r["from_name"] for r in prediction["result"]} >= {"response_type_labels", "ai_values_labels"}
    assert sum(len(t) for t in ls_tasks.values()) == 200

    # Three people annotate through Label Studio's API, each as themselves, in their own project.
    expected: dict[tuple[int, str], tuple[Any, ...]] = {}
    emails = {a: Annotator.objects.get(pk=a).email for a in annotator_ids}
    created: list[int] = []
    for n, annotator_id in enumerate(annotator_ids):
        for i, task in enumerate(ls_tasks[annotator_id][:8]):
            features = ["response_type", "ai_values"] if (i + n) % 2 else ["subjectivity", "response_type", "task"]
            reviews = [_review(i + n, f) for f in features]
            result = [region for r in reviews for region in review_result(r)]
            ann = as_user[annotator_id].annotation_create(task_id=task["id"], result=result, lead_time=10.0 + i)
            created.append(ann.annotation_id)
            for r in reviews:
                expected[(ann.annotation_id, r.feature)] = (
                    emails[annotator_id],
                    task["data"]["item_id"],
                    _expected_rows(r),
                )
    assert len(created) == 24
    assert _db_state() == expected, "webhooks alone should have brought every annotation in"
    assert Annotation.objects.filter(lead_time_s=10.0).count() > 0

    # An update and a deletion, also through webhooks.
    first, second = created[0], created[1]
    changed = FeatureReview(feature="response_type", verdict="incorrect", labels=["reframing"], comment="changed")
    annotator_of_first = next(a for a in annotator_ids if expected[(first, "response_type")][0] == emails[a])
    as_user[annotator_of_first].annotation_update(annotation_id=first, result=review_result(changed))
    for key in [k for k in expected if k[0] == first]:
        del expected[key]
    expected[(first, "response_type")] = (
        emails[annotator_of_first],
        Annotation.objects.get(label_studio_annotation_id=first, feature="response_type").item_id,
        _expected_rows(changed),
    )
    label_studio.annotation_delete(second)
    for key in [k for k in expected if k[0] == second]:
        del expected[key]
    assert _db_state() == expected

    # Webhooks that never arrive (Label Studio now sends a wrong secret, so we answer 401): reconciliation
    # catches up, including a deletion we were never told about.
    for project in LabelStudioProject.objects.filter(sample=sample):
        label_studio.webhook_ensure(
            project_id=int(project.label_studio_project_id or 0),
            url=webhook_url,
            headers={settings.LABEL_STUDIO_WEBHOOK_HEADER: "wrong"},
        )
    missed_owner = annotator_ids[2]
    for i, task in enumerate(ls_tasks[missed_owner][10:15]):
        review = _review(i, "human_values")
        ann = as_user[missed_owner].annotation_create(task_id=task["id"], result=review_result(review), lead_time=3.0)
        expected[(ann.annotation_id, "human_values")] = (
            emails[missed_owner],
            task["data"]["item_id"],
            _expected_rows(review),
        )
    silently_deleted = created[5]
    label_studio.annotation_delete(silently_deleted)
    for key in [k for k in expected if k[0] == silently_deleted]:
        del expected[key]
    assert _db_state() != expected

    reconciled = services.annotations_reconcile(sample_id=sample.pk, client=label_studio)
    assert reconciled.created == 5
    assert reconciled.deleted == len([k for k in _db_state_all() if k[0] == silently_deleted])
    assert reconciled.unknown_tasks == []
    assert _db_state() == expected, "after reconciliation: exactly the annotations in Label Studio, no more, no fewer"

    # A second reconciliation and replayed webhooks change nothing.
    snapshot = list(Annotation.objects.order_by("pk").values())
    again = services.annotations_reconcile(sample_id=sample.pk, client=label_studio)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    events = list(WebhookEvent.objects.order_by("pk"))
    assert events
    for event in events:
        body = json.dumps(event.payload).encode()
        # Signed as Label Studio signed it: with the secret of the project the call came from.
        signed = project_secret(secret=secret, project_id=int(event.label_studio_project_id or 0))
        for _ in range(2):
            answer = httpx.post(webhook_url, content=body, headers={settings.LABEL_STUDIO_WEBHOOK_HEADER: signed})
            assert answer.status_code == 200, answer.text
        assert answer.json()["duplicate"] is True
    assert list(Annotation.objects.order_by("pk").values()) == snapshot
    assert _db_state() == expected


def _db_state_all() -> set[tuple[int, str]]:
    return set(Annotation.objects.filter(deleted=True).values_list("label_studio_annotation_id", "feature"))


@pytest.mark.django_db(transaction=True)
def test_push_resumes_after_label_studio_stops_and_never_duplicates_a_task(
    label_studio: LabelStudio, local_label_studio: LocalLabelStudio
) -> None:
    run = run_with_extractions(120)
    sample = services.review_sample_create(run_id=run.pk, strategy="find_errors", size=120, seed=3)
    annotator = services.annotator_get_or_create(email=_unique_emails(1)[0])
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)

    batches = []

    def stop_after_two_batches(n: int) -> None:
        batches.append(n)
        if len(batches) == 2:
            local_label_studio.stop()

    try:
        with pytest.raises(LabelStudioUnavailableError, match=local_label_studio.url):
            services.sample_push(
                sample_id=sample.pk, client=label_studio, batch_size=20, on_batch=stop_after_two_batches
            )
    finally:
        local_label_studio.start()
    assert LabelStudioTask.objects.exclude(label_studio_task_id=None).count() == 40

    # Simulate an import whose answer was lost: Label Studio has 20 more tasks we never recorded.
    project = LabelStudioProject.objects.get(sample=sample)
    ls_id = int(project.label_studio_project_id or 0)
    lost = list(project.tasks.filter(label_studio_task_id=None).order_by("item__position")[:20])
    version = push._model_version(sample, push._sample_features(sample))
    payload = push._tasks_payload(sample, lost, push._sample_features(sample), version, None)
    label_studio.tasks_import(project_id=ls_id, tasks=payload)

    report = services.sample_push(sample_id=sample.pk, client=label_studio, batch_size=20)
    assert (report.recovered, report.pushed, report.duplicates_in_label_studio) == (20, 60, [])

    tasks = label_studio.project_tasks(project_id=ls_id)
    item_ids = [t["data"]["item_id"] for t in tasks]
    assert len(tasks) == 120
    assert len(set(item_ids)) == 120, "no item is in Label Studio twice"
    assert dict(project.tasks.values_list("label_studio_task_id", "item_id")) == {
        t["id"]: t["data"]["item_id"] for t in tasks
    }

    # Pushing again is a no-op.
    again = services.sample_push(sample_id=sample.pk, client=label_studio, batch_size=20)
    assert (again.pushed, again.recovered, again.already) == (0, 0, 120)
    assert len(label_studio.project_tasks(project_id=ls_id)) == 120


@pytest.mark.django_db(transaction=True)
def test_a_project_deleted_in_label_studio_is_reported_and_can_be_recreated(label_studio: LabelStudio) -> None:
    run = run_with_extractions(10)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=10, seed=5)
    annotator_ids, as_user = _people(label_studio, 1)
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=annotator_ids, reviewers_per_item=1)
    services.sample_push(sample_id=sample.pk, client=label_studio)
    project = LabelStudioProject.objects.get(sample=sample)
    task_id = int(project.tasks.order_by("pk").values_list("label_studio_task_id", flat=True)[0] or 0)
    as_user[annotator_ids[0]].annotation_create(task_id=task_id, result=review_result(_review(0, "ai_values")))
    # Someone adds a task of their own to the project and annotates it: reported, not stored, not a crash.
    ls_project = int(project.label_studio_project_id or 0)
    (foreign,) = label_studio.tasks_import(
        project_id=ls_project,
        tasks=[{"data": {**label_studio.project_tasks(project_id=ls_project)[0]["data"], "item_id": None}}],
    )
    label_studio.annotation_create(task_id=foreign, result=review_result(_review(1, "task")))
    report = services.annotations_reconcile(sample_id=sample.pk, client=label_studio)
    assert report.unknown_tasks == [foreign]
    assert Annotation.objects.filter(deleted=False).count() == 1

    label_studio.project_delete(int(project.label_studio_project_id or 0))
    report = services.annotations_reconcile(sample_id=sample.pk, client=label_studio)
    assert report.deleted_projects == [project.pk]
    assert "was deleted" in report.problems[0]
    project.refresh_from_db()
    assert project.status == ProjectStatus.DELETED
    assert Annotation.objects.filter(deleted=False).count() == 1, "annotations already taken in are kept"

    with pytest.raises(services.ProjectDeletedError, match="recreate"):
        services.sample_push(sample_id=sample.pk, client=label_studio)
    pushed = services.sample_push(sample_id=sample.pk, client=label_studio, recreate_deleted=True)
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert pushed.pushed == 10
    assert len(label_studio.project_tasks(project_id=int(project.label_studio_project_id or 0))) == 10
