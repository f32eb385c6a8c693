"""Webhooks duplicated, reordered and lost, with the bodies the session's real Label Studio sent.

Label Studio's webhook of a pushed project points at a recorder in the test; annotations are created, updated and
deleted in Label Studio; the recorded bodies are then delivered to our endpoint out of order (a deletion before
its creation, an update before its creation), each several times, with some never delivered. What arrived is
applied exactly; reconciliation then brings the database to Label Studio's export, annotation by annotation, and
a second delivery of everything, in another order, changes nothing.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from annotate.label_studio import LabelStudio
from annotate.labeling_config import FeatureReview, review_result
from annotate.webhook_auth import project_secret
from testing.fake_anthropic.harness import wait_until
from tests.resilience.conftest import State, db_state, export_state, review_results
from tests.resilience.test_review_faults import sample_assigned

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

URL = "/api/annotate/webhooks/label-studio/"


class Recorder:
    """An HTTP endpoint that keeps every body posted to it, in arrival order."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                recorder.bodies.append(body)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[tuple[str, int, bytes]]:
        """(action, annotation id, body) of each recorded call."""
        out = []
        for body in self.bodies:
            payload = json.loads(body)
            if payload["action"] == "ANNOTATIONS_DELETED":
                ids = [int(a["id"]) for a in payload["annotations"]]
            else:
                ids = [int(payload["annotation"]["id"])]
            out += [(payload["action"], i, body) for i in ids]
        return out


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


def _deliver(client: Client, body: bytes, secret: str, *, times: int) -> None:
    for _ in range(times):
        answer = client.post(URL, data=body, content_type="application/json", headers={"X-Webhook-Secret": secret})
        assert answer.status_code == 200, answer.content[:300]


def _rows_of(state: State, annotation_ids: set[int]) -> State:
    return {k: v for k, v in state.items() if k[0] in annotation_ids}


@pytest.mark.django_db(transaction=True)
def test_duplicated_reordered_and_lost_webhooks_end_equal_to_the_label_studio_export(
    label_studio: LabelStudio, recorder: Recorder, settings: Any
) -> None:
    from annotate import services
    from annotate.models import LabelStudioProject

    secret = secrets.token_urlsafe(16)
    settings.LABEL_STUDIO_WEBHOOK_SECRET = secret
    sample_id = sample_assigned(10, 1)
    services.sample_push(sample_id=sample_id, client=label_studio)
    project = LabelStudioProject.objects.get(sample_id=sample_id)
    ls_project = int(project.label_studio_project_id or 0)
    signed = project_secret(secret=secret, project_id=ls_project)  # what the project's webhook sends
    label_studio.webhook_ensure(project_id=ls_project, url=recorder.url, headers={"X-Webhook-Secret": signed})
    tasks = list(project.tasks.order_by("pk").values_list("label_studio_task_id", flat=True))

    # In Label Studio: eight annotations, two of them changed, two deleted.
    ann = [
        label_studio.annotation_create(task_id=int(t or 0), result=review_results(i)).annotation_id
        for i, t in enumerate(tasks[:8])
    ]
    changed = FeatureReview(feature="response_type", verdict="incorrect", labels=["no_values"], comment="changed")
    for a in (ann[1], ann[2]):
        label_studio.annotation_update(annotation_id=a, result=review_result(changed))
    for a in (ann[3], ann[4]):
        label_studio.annotation_delete(a)
    assert wait_until(lambda: len(recorder.events()) == 12, timeout_s=30), recorder.events()
    events = {(action, a): body for action, a, body in recorder.events()}
    created, updated, deleted = "ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"

    # Delivered out of order and repeated; the creations of ann[5] and ann[6] and the deletion of ann[4] are lost.
    lost = {(created, ann[5]), (created, ann[6]), (deleted, ann[4])}
    order = [
        (deleted, ann[3]),  # a deletion before its creation
        (created, ann[3]),
        (updated, ann[1]),  # an update before its creation
        (created, ann[1]),
        (created, ann[2]),
        (updated, ann[2]),
        (created, ann[2]),  # a stale creation after the update
    ]
    order += [key for key in events if key not in lost and key not in order]
    client = Client()
    for n, key in enumerate(order):
        _deliver(client, events[key], signed, times=2 + n % 2)

    export = export_state(label_studio, sample_id=sample_id)
    live = {ann[0], ann[1], ann[2], ann[7]}
    assert {k[0] for k in export} == live | {ann[5], ann[6]}
    # What arrived is applied exactly: the export minus the lost creations, plus the annotation whose deletion was
    # lost (as it was created).
    state = db_state()
    assert _rows_of(state, live) == _rows_of(export, live)
    assert {k[0] for k in state} == live | {ann[4]}

    report = services.annotations_reconcile(sample_id=sample_id, client=label_studio)
    assert (report.created, report.updated, report.deleted) == (2, 0, 2)
    assert db_state() == export, "after reconciliation the database is Label Studio's export"

    # Everything delivered again, in another order: nothing changes.
    again = list(events.values())
    random.Random(5).shuffle(again)
    for body in again:
        _deliver(client, body, signed, times=1)
    assert db_state() == export
