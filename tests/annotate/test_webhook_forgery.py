"""A reviewer can read their own project's webhook (and its secret) in Label Studio: they cannot forge a review.

Against the session's real Label Studio with three blind reviewers and webhooks to the live app: each project's
webhook carries a secret of its own; reviewer A reads theirs through Label Studio's API and uses it to post
forged calls about reviewer B's work (a new review on B's task, a changed copy of B's review, the deletion of
B's review) and a review on A's own task claiming to be B's. None of it is stored as B's; B's real review,
delivered by Label Studio's own webhook, is.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx
import pytest
from django.test import Client

from annotate import labeling_config
from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio
from annotate.models import Annotation, WebhookEvent
from tests.annotate.test_blind_review import Reviewer, _sample_with_three_blind_reviewers

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

WEBHOOK_PATH = "/api/annotate/webhooks/label-studio/"
HEADER = "X-Webhook-Secret"


def _visible_secret(reviewer: Reviewer) -> str:
    """What the reviewer reads in their project's webhook settings, with their own token."""
    hooks = httpx.get(
        f"{reviewer.api.url}/api/webhooks",
        params={"project": reviewer.project_id},
        headers={"Authorization": f"Token {reviewer.api._api_key}"},
        timeout=60,
    ).json()
    (hook,) = [h for h in hooks if h["project"] == reviewer.project_id]
    return str(hook["headers"][HEADER])


def _forge(secret: str, *, action: str, annotation: dict[str, Any], task_id: int) -> int:
    body = {"action": action, "annotation": annotation, "task": {"id": task_id}}
    answer = Client().post(
        WEBHOOK_PATH, data=json.dumps(body), content_type="application/json", headers={HEADER: secret}
    )
    return answer.status_code


def _b_rows(b: Reviewer) -> list[tuple[Any, ...]]:
    return list(
        Annotation.objects.filter(annotator_id=b.annotator_id)
        .order_by("label_studio_annotation_id", "feature")
        .values_list("label_studio_annotation_id", "feature", "verdict", "corrected_labels", "deleted")
    )


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_with_the_secret_they_can_see_cannot_forge_another_reviewers_review(
    label_studio: LabelStudio, local_label_studio: LocalLabelStudio, live_server: Any, settings: Any
) -> None:
    settings.LABEL_STUDIO_WEBHOOK_SECRET = secrets.token_urlsafe(16)
    settings.LABEL_STUDIO_WEBHOOK_URL = f"{live_server.url}{WEBHOOK_PATH}"
    _, (a, b, c) = _sample_with_three_blind_reviewers(label_studio, local_label_studio)
    seen = {r.email: _visible_secret(r) for r in (a, b, c)}
    assert len(set(seen.values())) == 3, "a secret per project"
    assert settings.LABEL_STUDIO_WEBHOOK_SECRET not in "".join(seen.values()), "the app's own secret is not shown"

    # B reviews in Label Studio; Label Studio's webhook (B's project's secret) brings it in.
    review = labeling_config.FeatureReview(
        feature="ai_values", verdict="correct", reasoning_check="sound", labels=["honesty"]
    )
    real = b.api.annotation_create(task_id=b.task_ids[0], result=labeling_config.review_result(review), lead_time=5)
    deadline = time.monotonic() + 60
    while not _b_rows(b) and time.monotonic() < deadline:
        time.sleep(0.5)
    before = _b_rows(b)
    assert before == [(real.annotation_id, "ai_values", "correct", ["honesty"], False)]

    forged = labeling_config.FeatureReview(feature="ai_values", verdict="incorrect", labels=["care"], comment="x")
    regions = labeling_config.review_result(forged)
    mine = seen[a.email]
    # A new review on B's task, a newer copy of B's review, and the deletion of B's review: all signed by A.
    new = {"id": real.annotation_id + 1000, "task": b.task_ids[1], "completed_by": None, "result": regions,
           "updated_at": "2099-01-01T00:00:00Z"}  # fmt: skip
    assert _forge(mine, action="ANNOTATION_CREATED", annotation=new, task_id=b.task_ids[1]) == 200
    changed = {**new, "id": real.annotation_id, "task": b.task_ids[0]}
    assert _forge(mine, action="ANNOTATION_UPDATED", annotation=changed, task_id=b.task_ids[0]) == 200
    deletion = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": real.annotation_id}]}
    answer = Client().post(WEBHOOK_PATH, data=deletion, content_type="application/json", headers={HEADER: mine})
    assert answer.status_code == 200
    assert _b_rows(b) == before, "nothing A signed changed B's reviews"
    refused = WebhookEvent.objects.filter(error__contains=f"project {a.project_id}")
    assert refused.count() == 3

    # A's own task, claiming to be B (B's Label Studio user id): stored as A's review, never as B's.
    b_user = httpx.get(
        f"{b.api.url}/api/current-user/whoami", headers={"Authorization": f"Token {b.api._api_key}"}, timeout=60
    ).json()["id"]
    claim = {**new, "id": real.annotation_id + 2000, "task": a.task_ids[0], "completed_by": b_user}
    assert _forge(mine, action="ANNOTATION_CREATED", annotation=claim, task_id=a.task_ids[0]) == 200
    assert set(
        Annotation.objects.filter(label_studio_annotation_id=claim["id"]).values_list("annotator_id", flat=True)
    ) == {a.annotator_id}
    assert _b_rows(b) == before

    # The app's own secret, and B's secret presented for A's project id, open nothing.
    for header in (settings.LABEL_STUDIO_WEBHOOK_SECRET, f"{a.project_id}." + seen[b.email].split(".", 1)[1]):
        assert _forge(header, action="ANNOTATION_CREATED", annotation=changed, task_id=b.task_ids[0]) == 401
