"""Hostile webhook bodies: each is a 400 with a reason (never a 500), and no stored event stays 'received'."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from annotate import services
from annotate.models import Annotation, EventStatus, WebhookEvent
from tests.annotate.test_api import _created, _post, pushed  # noqa: F401  (pushed is a fixture)

BIG = 2**63  # one past the largest id a BigIntegerField stores


def _with(**fields: Any) -> dict[str, Any]:
    body = _created()
    body["annotation"].update(fields)
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64"),
        (b'{"action": "ANNOTATION_CREATED", "annotation": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
        (_with(completed_by=[42]), "completed_by must be an integer, got list"),
        (_with(completed_by={"id": [1]}), "completed_by must be an integer, got list"),
        (_with(lead_time=[1.5]), "lead_time must be a number of seconds, got list"),
        (_with(lead_time={"s": 1}), "lead_time must be a number of seconds, got dict"),
        (_with(id=BIG), "annotation.id is out of range"),
        (_with(task=BIG), "task is out of range"),
        (_with(completed_by=BIG), "completed_by is out of range"),
        (b'{"action": "ANNOTATION_CREATED", "annotation": {"id": 1' + b"0" * 5000 + b"}}", "bad JSON value"),
        ({"action": "ANNOTATIONS_DELETED", "annotations": [{"id": BIG}]}, "annotations[0].id is out of range"),
        ({"action": "ANNOTATIONS_DELETED", "annotations": [[1]]}, "must be an object"),
    ],
)
def test_hostile_bodies_are_400_with_a_reason_and_store_nothing(
    client: Client, settings: Any, db: None, body: Any, reason: str
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    answer = _post(client, body, "s")
    assert answer.status_code == 400, answer.content[:200]
    assert reason in answer.json()["detail"]
    assert not WebhookEvent.objects.exists()


def test_the_largest_storable_ids_are_accepted(client: Client, settings: Any, pushed: dict[str, Any]) -> None:  # noqa: F811
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    answer = _post(client, _with(id=BIG - 1), "s")
    assert answer.status_code == 200
    assert set(Annotation.objects.values_list("label_studio_annotation_id", flat=True)) == {BIG - 1}
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED


def test_an_event_that_fails_in_processing_is_marked_failed_not_left_received(db: None) -> None:
    # Stored by an older version that did not check ids: processing must end in 'failed' with the reason.
    event = WebhookEvent.objects.create(
        action="ANNOTATION_CREATED", digest="d" * 64, payload=json.loads(json.dumps(_with(id=BIG)))
    )
    services.webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED
    assert "out of range" in event.error
    assert not WebhookEvent.objects.filter(status=EventStatus.RECEIVED).exists()


def test_a_deletion_arriving_before_the_creation_is_not_undone(
    client: Client,
    settings: Any,
    pushed: dict[str, Any],  # noqa: F811
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s"
    assert _post(client, {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 7}]}, "s").status_code == 200
    assert _post(client, _created(annotation_id=7), "s").status_code == 200
    assert _post(client, _created(annotation_id=7, updated_at="2026-02-01T00:00:00Z"), "s").status_code == 200
    assert not Annotation.objects.filter(label_studio_annotation_id=7, deleted=False).exists()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    # Another annotation is unaffected, and a deletion after the creation still marks its rows.
    assert _post(client, _created(annotation_id=8), "s").status_code == 200
    assert Annotation.objects.filter(label_studio_annotation_id=8, deleted=False).count() == 2
    assert _post(client, {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 8}]}, "s").status_code == 200
    assert _post(client, _created(annotation_id=8, updated_at="2026-03-01T00:00:00Z"), "s").status_code == 200
    assert not Annotation.objects.filter(deleted=False).exists()
