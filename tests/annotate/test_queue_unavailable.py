"""Push and reconcile answer 503 with Retry-After, at once, when Label Studio or the task queue cannot take the work."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from kombu.exceptions import OperationalError

from accounts.roles import Role, user_add_role
from annotate import services
from annotate.label_studio import LabelStudio
from tests.annotate.factories import run_with_extractions

ACTIONS = ["push", "reconcile"]


@pytest.fixture
def lead_and_sample(client: Client, db: None) -> int:
    lead = get_user_model().objects.create_user(username="lead", password="pw-12345-long")
    user_add_role(user=lead, role=Role.LEAD)
    client.force_login(lead)
    run = run_with_extractions(2)
    return services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=1).pk


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post_timed(client: Client, url: str) -> tuple[Any, float]:
    """The answer to a second POST and how long it took (the first warms up imports on a loaded machine)."""
    client.post(url)
    start = time.monotonic()
    answer = client.post(url)
    return answer, time.monotonic() - start


@pytest.mark.parametrize("action", ACTIONS)
def test_label_studio_not_configured_is_503_with_retry_after(
    client: Client, settings: Any, lead_and_sample: int, action: str
) -> None:
    settings.LABEL_STUDIO_API_KEY = ""
    answer, took = _post_timed(client, f"/api/annotate/samples/{lead_and_sample}/{action}/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "60"
    assert "Label Studio is not configured" in answer.json()["detail"]
    assert took < 2, f"the request blocked for {took:.1f} s"


@pytest.mark.parametrize("action", ACTIONS)
def test_label_studio_unreachable_is_503_quickly(
    client: Client, settings: Any, lead_and_sample: int, action: str
) -> None:
    settings.LABEL_STUDIO_API_KEY = "some-key"
    settings.LABEL_STUDIO_URL = f"http://127.0.0.1:{_closed_port()}"
    answer, took = _post_timed(client, f"/api/annotate/samples/{lead_and_sample}/{action}/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "60"
    assert "is not answering" in answer.json()["detail"]
    assert took < 2, f"the request blocked for {took:.1f} s"


@pytest.mark.parametrize("action", ACTIONS)
def test_broker_down_is_503(
    client: Client, settings: Any, lead_and_sample: int, action: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.LABEL_STUDIO_API_KEY = "some-key"
    monkeypatch.setattr(LabelStudio, "healthy", lambda self, **kw: True)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("[Errno 111] Connection refused")

    from annotate import api

    monkeypatch.setattr(api.sample_push_task, "delay", refused)
    monkeypatch.setattr(api.annotations_reconcile_sample, "delay", refused)
    answer = client.post(f"/api/annotate/samples/{lead_and_sample}/{action}/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "60"
    assert answer.json()["detail"] == "the task queue is not reachable; try again later"
