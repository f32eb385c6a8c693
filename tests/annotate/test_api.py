"""The webhook endpoint (secret, malformed bodies, idempotence) and the role checks of the sample endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, TestCase

from accounts.roles import Role, user_add_role
from annotate import services
from annotate.labeling_config import FeatureReview, review_result
from annotate.models import Annotation, EventStatus, LabelStudioProject, LabelStudioTask, WebhookEvent
from annotate.webhook_auth import project_secret
from tests.annotate.factories import run_with_extractions

URL = "/api/annotate/webhooks/label-studio/"


@pytest.fixture
def pushed(db: None) -> dict[str, Any]:
    """A sample of 3 items assigned to one annotator, mapped to Label Studio tasks 501-503 (as if pushed)."""
    run = run_with_extractions(3)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=3, seed=1)
    annotator = services.annotator_get_or_create(email="reviewer-ada@example.org")
    annotator.label_studio_user_id = 42
    annotator.save()
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)
    LabelStudioProject.objects.update(label_studio_project_id=9)
    for n, link in enumerate(LabelStudioTask.objects.order_by("item__position")):
        link.label_studio_task_id = 501 + n
        link.save()
    return {"sample": sample, "annotator": annotator}


def _created(annotation_id: int = 1, task_id: int = 501, updated_at: str = "2026-01-01T10:00:00Z", **kw: Any) -> dict:
    reviews = kw.pop(
        "reviews",
        [
            FeatureReview(feature="ai_values", verdict="correct", reasoning_check="sound", labels=["honesty"]),
            FeatureReview(feature="response_type", verdict="incorrect", labels=["reframing"], comment="too strong"),
        ],
    )
    return {
        "action": kw.pop("action", "ANNOTATION_CREATED"),
        "annotation": {
            "id": annotation_id,
            "task": task_id,
            "completed_by": 42,
            "result": [region for r in reviews for region in review_result(r)],
            "lead_time": 12.5,
            "was_cancelled": kw.pop("was_cancelled", False),
            "updated_at": updated_at,
        },
        "task": {"id": task_id},
        "project": {"id": 9},
    }


def _post(client: Client, body: Any, secret: str | None, project: int = 9) -> Any:
    """Post as the webhook of Label Studio project ``project`` holding the app's ``secret`` would."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = project_secret(secret=secret, project_id=project) if secret else secret
    headers = {"X-Webhook-Secret": header} if header is not None else {}
    # Processing is queued on commit; run it as a worker would once the request's transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(URL, data=raw, content_type="application/json", headers=headers)


def _rows() -> list[tuple[Any, ...]]:
    return list(
        Annotation.objects.order_by("label_studio_annotation_id", "feature").values_list(
            "label_studio_annotation_id", "feature", "verdict", "corrected_labels", "comment", "lead_time_s", "deleted"
        )
    )


@pytest.mark.parametrize("given", [None, "", "wrong-secret", "the-secret "])
def test_wrong_or_missing_secret_is_401_and_stores_nothing(
    client: Client, settings: Any, db: None, given: str | None
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "the-secret"
    assert _post(client, _created(), given).status_code == 401
    assert not WebhookEvent.objects.exists()


def test_the_apps_own_secret_is_no_webhook_secret(client: Client, settings: Any, db: None) -> None:
    """Webhooks carry a secret per project (their reviewer can read it); the app's own one never opens the door."""
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "the-secret"
    raw = json.dumps(_created()).encode()
    for header in ("the-secret", "9.the-secret", project_secret(secret="the-secret", project_id=9) + "0"):
        answer = client.post(URL, data=raw, content_type="application/json", headers={"X-Webhook-Secret": header})
        assert answer.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert _post(client, _created(), "the-secret", project=9).status_code == 200


def test_an_unset_secret_refuses_every_call(client: Client, settings: Any, db: None) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = ""
    assert _post(client, _created(), "").status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        ([1, 2], "must be a JSON object"),
        ({"annotation": {}}, "'action' is missing"),
        ({"action": "ANNOTATION_CREATED"}, "needs an 'annotation'"),
        ({"action": "ANNOTATION_CREATED", "annotation": {"task": 1}}, "annotation.id is missing"),
        ({"action": "ANNOTATION_CREATED", "annotation": {"id": 3}}, "task is missing"),
        ({"action": "ANNOTATION_UPDATED", "annotation": {"id": 3, "task": 1, "result": "x"}}, "result must be a list"),
        ({"action": "ANNOTATIONS_DELETED", "annotations": {"id": 1}}, "needs an 'annotations' list"),
    ],
)
def test_malformed_payload_is_400_and_stores_nothing(
    client: Client, settings: Any, db: None, body: Any, message: str
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    answer = _post(client, body, "s")
    assert answer.status_code == 400
    assert message in answer.json()["detail"]
    assert not WebhookEvent.objects.exists()


def test_created_annotation_is_stored_per_feature_and_replays_change_nothing(
    client: Client, settings: Any, pushed: dict[str, Any]
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    body = json.dumps(_created()).encode()
    first = _post(client, body, "s")
    assert first.status_code == 200
    assert first.json()["duplicate"] is False
    rows = _rows()
    assert rows == [
        (1, "ai_values", "correct", ["honesty"], "", 12.5, False),
        (1, "response_type", "incorrect", ["reframing"], "too strong", 12.5, False),
    ]
    ann = Annotation.objects.get(feature="ai_values")
    assert ann.annotator == pushed["annotator"]
    assert ann.extraction.feature == "ai_values"
    assert ann.item.conversation_id == ann.extraction.conversation_id
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED

    snapshot = list(Annotation.objects.order_by("pk").values())
    again = _post(client, body, "s")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    # The same annotation in a differently serialised body (a new event) changes no row either.
    reordered = json.dumps(_created(), sort_keys=True, indent=1).encode()
    assert _post(client, reordered, "s").json()["duplicate"] is False
    assert list(Annotation.objects.order_by("pk").values()) == snapshot
    assert WebhookEvent.objects.count() == 2


def test_update_replaces_older_copies_are_ignored_and_deletion_marks_rows(
    client: Client, settings: Any, pushed: dict[str, Any]
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    _post(client, _created(), "s")
    newer = _created(
        action="ANNOTATION_UPDATED",
        updated_at="2026-01-01T11:00:00Z",
        reviews=[FeatureReview(feature="ai_values", verdict="incorrect", labels=["care"])],
    )
    _post(client, newer, "s")
    assert _rows() == [
        (1, "ai_values", "incorrect", ["care"], "", 12.5, False),
        (1, "response_type", "incorrect", ["reframing"], "too strong", 12.5, True),
    ]
    stale = _created(action="ANNOTATION_UPDATED", updated_at="2026-01-01T10:30:00Z")
    _post(client, stale, "s")
    assert _rows()[0][2:4] == ("incorrect", ["care"]), "an older copy arriving late changes nothing"

    _post(client, {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 1}], "project": {"id": 9}}, "s")
    assert all(row[-1] for row in _rows())


def test_bulk_created_and_cancelled_annotations(client: Client, settings: Any, pushed: dict[str, Any]) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    two = [_created(annotation_id=5, task_id=502)["annotation"], _created(annotation_id=6, task_id=503)["annotation"]]
    body = {"action": "ANNOTATIONS_CREATED", "annotation": two, "task": [{"id": 502}, {"id": 503}]}
    assert _post(client, body, "s").status_code == 200
    assert {r[0] for r in _rows()} == {5, 6}
    _post(client, _created(annotation_id=7, task_id=501, was_cancelled=True), "s")
    assert not Annotation.objects.filter(label_studio_annotation_id=7).exists(), "a skipped task is no review"


def test_annotation_for_an_unknown_task_is_reported_not_a_crash(
    client: Client, settings: Any, pushed: dict[str, Any]
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    answer = _post(client, _created(annotation_id=9, task_id=99999), "s")
    assert answer.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.UNKNOWN_TASK
    assert "99999" in event.error
    assert not Annotation.objects.exists()


def test_other_label_studio_actions_are_accepted_and_ignored(client: Client, settings: Any, db: None) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    assert _post(client, {"action": "PROJECT_UPDATED", "project": {"id": 1}}, "s").status_code == 200
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED


def test_sample_endpoints_need_a_role_and_push_needs_a_lead(client: Client, db: None) -> None:
    assert client.get("/api/annotate/samples/").status_code in (401, 403)
    user = get_user_model().objects.create_user(username="ann", password="pw-12345-long")
    user_add_role(user=user, role=Role.ANNOTATOR)
    client.force_login(user)
    assert client.get("/api/annotate/samples/").status_code == 200
    assert client.post("/api/annotate/samples/1/push/").status_code == 403
    assert client.post("/api/annotate/samples/1/reconcile/").status_code == 403
    lead = get_user_model().objects.create_user(username="lead", password="pw-12345-long")
    user_add_role(user=lead, role=Role.LEAD)
    client.force_login(lead)
    assert client.post("/api/annotate/samples/12345/push/").status_code == 404
