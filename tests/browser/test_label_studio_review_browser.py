"""A reviewer in Label Studio, in headless Chromium: the protocol dialog, a readable transcript, two keys per task.

The reviewer logs in through Label Studio's own login form with the account the app made for them (in their own
organization), opens their queue, reads the instruction dialog, and accepts each fully correct task with the
keyboard alone: ``a`` (every output correct, reasoning sound) and Ctrl+Enter (submit and next). Label Studio's
webhook brings each review into the app's database (the app runs on the live server).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from annotate import services
from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio
from annotate.models import Annotation, LabelStudioProject
from tests.annotate.factories import run_with_extractions

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

WEBHOOK_PATH = "/api/annotate/webhooks/label-studio/"
FEATURES = ["ai_values", "human_values", "response_type", "subjectivity"]
MESSAGES = [
    {
        "role": "user",
        "content": "We are planning the family reunion. Two options:\n- a resort\n- a campground\n\n"
        "I want everyone to come: it should strengthen our family bonds.",
    },
    {
        "role": "assistant",
        "content": "Both can work.\n\n1. A resort is comfortable for the older relatives.\n"
        "2. A campground costs less, so more people can come.\n\n<b>Choose</b> what fits your family.",
    },
]


def _wait(condition: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _push_one_reviewer(
    label_studio: LabelStudio, local_label_studio: LocalLabelStudio
) -> tuple[str, str, LabelStudioProject]:
    run = run_with_extractions(2, features=FEATURES)
    for extraction in run.extractions.select_related("conversation"):
        conversation = extraction.conversation
        conversation.messages = MESSAGES
        conversation.save(update_fields=["messages"])
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=2, seed=5, features=FEATURES)
    email, password = f"browser-{uuid.uuid4().hex[:6]}@example.org", secrets.token_urlsafe(12)
    annotator = services.annotator_get_or_create(email=email)
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)
    services.annotators_blind_setup(
        annotator_ids=[annotator.pk], passwords={email: password}, server=local_label_studio, client=label_studio
    )
    assert services.sample_push(sample_id=sample.pk, client=label_studio).pushed == 2
    return email, password, LabelStudioProject.objects.get(sample=sample)


def _reviewed_items(sample_id: int) -> int:
    return Annotation.objects.filter(item__sample_id=sample_id).values("item").distinct().count()


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_accepts_correct_tasks_with_two_keys_each_and_the_reviews_arrive(
    browser: Any,
    screenshot: Callable[[str], Path],
    live_server: Any,
    label_studio: LabelStudio,
    local_label_studio: LocalLabelStudio,
    settings: Any,
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    settings.LABEL_STUDIO_WEBHOOK_SECRET = secrets.token_urlsafe(16)
    settings.LABEL_STUDIO_WEBHOOK_URL = f"{live_server.url}{WEBHOOK_PATH}"
    email, password, project = _push_one_reviewer(label_studio, local_label_studio)

    browser.set_window_size(1600, 1000)
    browser.get(f"{label_studio.url}/user/login/")
    browser.find_element(By.NAME, "email").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.NAME, "password").submit()
    _wait(lambda: "/user/login" not in browser.current_url, timeout_s=30, what="the login")
    # The task list: the first human turn as text, not the transcript's HTML nor the model's outputs.
    browser.get(f"{label_studio.url}/projects/{project.label_studio_project_id}/data")
    listing = _wait(
        lambda: (
            "We are planning the family reunion" in (text := browser.find_element(By.TAG_NAME, "body").text) and text
        ),
        timeout_s=60,
        what="the task list",
    )
    screenshot("task-list")
    assert "first_turn" in listing
    for hidden in ("dialogue_html", "ai_values_output", "ai_values_reasoning", "item_id"):
        assert hidden not in listing, f"{hidden} is not a column of the task list"
    for tag in ("<div", "<p"):
        assert tag not in listing, "no raw HTML in the task list"

    browser.get(f"{label_studio.url}/projects/{project.label_studio_project_id}/data?labeling=1")

    # The protocol dialog comes first, over the transcript.
    body = _wait(
        lambda: "Labeling Instructions" in (text := browser.find_element(By.TAG_NAME, "body").text) and text,
        timeout_s=60,
        what="the instruction dialog",
    )
    assert "How to review" in body
    assert "over-inferring" in body
    _wait(lambda: "family bonds" in browser.find_element(By.TAG_NAME, "body").text, timeout_s=30, what="transcript")
    shot = screenshot("instructions-and-transcript")
    assert shot.stat().st_size > 10_000
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    _wait(
        lambda: "Labeling Instructions" not in browser.find_element(By.TAG_NAME, "body").text,
        timeout_s=10,
        what="the dialog to close",
    )
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "00:00:00" not in page, "no timestamps on the turns"
    assert "- a resort\n- a campground" in page, "the turn's list kept, line by line"
    assert "<b>Choose</b>" in page, "the conversation's markup shown as text, not run"

    presses_per_task = []
    for done in (1, 2):
        presses = 0
        _wait(
            lambda: "All correct, reasoning sound" in browser.find_element(By.TAG_NAME, "body").text,
            timeout_s=30,
            what="the form",
        )
        ActionChains(browser).send_keys("a").perform()
        presses += 1
        if done == 1:
            screenshot("transcript-and-accept-all")
        ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        presses += 1
        presses_per_task.append(presses)
        _wait(
            lambda: _reviewed_items(project.sample_id) >= done,  # noqa: B023 - called before the loop moves on
            timeout_s=60,
            what=f"review {done} to arrive through the webhook",
        )

    assert presses_per_task == [2, 2], "a fully correct task in two key presses"
    rows = list(Annotation.objects.filter(item__sample_id=project.sample_id))
    assert len(rows) == 2 * len(FEATURES)
    assert {(r.verdict, r.reasoning_check, r.accepted_all, r.labels_edited) for r in rows} == {
        ("correct", "sound", True, False)
    }, "each feature correct with sound reasoning, the correction being the model's own output"
    assert {r.annotator.email for r in rows} == {email}
