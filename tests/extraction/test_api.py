"""The runs endpoint: authentication, roles, starting a run and reading its report."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.roles import Role, user_add_role
from extraction.models import ExtractionRun, RunStatus
from tests.extraction.conftest import RecordingsWriter

URL = "/api/extraction/runs/"


def client_for(role: str | None) -> APIClient:
    user = get_user_model().objects.create_user(username=f"u-{role}", password="pw-long-enough-1")
    if role:
        user_add_role(user=user, role=role)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_anonymous_users_are_refused() -> None:
    client = APIClient()
    assert client.get(URL).status_code in (401, 403)
    assert client.post(URL, {"dataset": "x", "prompt_set": "paper-v1"}, format="json").status_code in (401, 403)
    assert client.get(f"{URL}1/").status_code in (401, 403)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [None, Role.ANNOTATOR])
def test_other_roles_are_forbidden(role: str | None) -> None:
    client = client_for(role)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"dataset": "x", "prompt_set": "paper-v1"}, format="json").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.PROMPT_ENGINEER, Role.LEAD])
def test_start_and_monitor_a_run(
    role: str, small_dataset: Any, write_recordings: RecordingsWriter, django_capture_on_commit_callbacks: Any
) -> None:
    write_recordings(overrides={("s1", "response_type"): "<thinking>t</thinking><answer>cheering</answer>"})
    client = client_for(role)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"dataset": "small", "prompt_set": "paper-v1"}, format="json")
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    detail = client.get(f"{URL}{run_id}/").json()
    assert detail["status"] == RunStatus.SUCCEEDED
    assert detail["progress"]["done"] == detail["progress"]["total"] == 14
    assert detail["progress"]["percent"] == 100.0
    assert detail["costs"]["conversations"] == 4
    assert detail["costs"]["cost_usd"].startswith("0.")
    assert [(f["conversation"], f["feature"], f["status"]) for f in detail["failures"]] == [
        ("s1", "response_type", "parse_error")
    ]
    listed = client.get(URL).json()
    assert listed[0]["id"] == run_id
    assert ExtractionRun.objects.get(pk=run_id).created_by is not None


@pytest.mark.django_db
def test_bad_options_are_a_400_with_the_reason(small_dataset: Any) -> None:
    client = client_for(Role.PROMPT_ENGINEER)
    response = client.post(URL, {"dataset": "nope", "prompt_set": "paper-v1"}, format="json")
    assert response.status_code == 400
    assert "no dataset named 'nope'" in response.json()["detail"]
    response = client.post(URL, {"dataset": "small", "prompt_set": "paper-v1", "samples": 0}, format="json")
    assert response.status_code == 400
    assert ExtractionRun.objects.count() == 0


@pytest.mark.django_db
def test_cancel_and_unknown_run(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    write_recordings()
    client = client_for(Role.LEAD)
    response = client.post(URL, {"dataset": "small", "prompt_set": "paper-v1"}, format="json")  # not committed: queued
    run_id = response.json()["id"]
    assert client.post(f"{URL}{run_id}/cancel/").json()["status"] == RunStatus.CANCELLED
    assert client.post(f"{URL}{run_id}/cancel/").status_code == 200  # already cancelled: no change
    assert client.get(f"{URL}999999/").status_code == 404


@pytest.mark.django_db
def test_anthropic_run_without_a_key_is_refused_before_anything_is_written(small_dataset: Any, settings: Any) -> None:
    settings.ANTHROPIC_API_KEY = ""
    body = {"dataset": "small", "prompt_set": "paper-v1", "provider": "anthropic", "batch": True}
    response = client_for(Role.LEAD).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("ANTHROPIC_API_KEY is not set")
    assert ExtractionRun.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "prompt_set",
    [
        str(settings.EXTRACTION_PROMPTS_DIR / "paper-v1"),  # an absolute path
        "../prompts/paper-v1",
        "paper-v1/../fused-v1",
        "/etc",
        "/no/such/parent/anywhere",
        ".hidden",
        "paper-v1/",
    ],
)
def test_a_prompt_set_given_as_a_path_is_refused_without_touching_the_file_system(
    prompt_set: str, small_dataset: Any, tmp_path: Any
) -> None:
    (tmp_path / "set.yaml").write_text("name: outside\n")  # a folder that would load if paths were followed
    response = client_for(Role.LEAD).post(URL, {"dataset": "small", "prompt_set": prompt_set}, format="json")
    assert response.status_code == 400, response.content
    text = response.content.decode()
    assert "chosen by its name" in text
    assert "known sets" not in text  # nothing about what exists next to the given path
    assert not ExtractionRun.objects.exists()


@pytest.mark.django_db
def test_an_unknown_prompt_set_name_lists_only_the_configured_sets(small_dataset: Any) -> None:
    response = client_for(Role.LEAD).post(URL, {"dataset": "small", "prompt_set": "paper-v9"}, format="json")
    assert response.status_code == 400
    text = response.content.decode()
    assert "no prompt set here by that name; known sets: fused-v1, paper-v1" in text
    assert str(settings.BASE_DIR) not in text  # no server path in the answer


@pytest.mark.django_db(transaction=True)
def test_a_replay_with_a_missing_recording_is_a_400_naming_it(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    # No broker: the run goes on in the request (tasks run eagerly after commit) and stops at the missing recording.
    write_recordings(overrides={("s1", "response_type"): None})
    response = client_for(Role.LEAD).post(URL, {"dataset": "small", "prompt_set": "paper-v1"}, format="json")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    run = ExtractionRun.objects.get()
    assert detail.startswith(f"run {run.pk} stopped: no recorded response for conversation 's1' of dataset 'small'")
    assert "feature 'response_type'" in detail
    assert "check_recordings" in detail
    assert run.status == RunStatus.FAILED
    assert "'s1'" in run.error


@pytest.mark.django_db
def test_a_missing_recordings_file_is_a_400_before_any_run(small_dataset: Any, settings: Any, tmp_path: Any) -> None:
    settings.EXTRACTION_REPLAY_FILE = str(tmp_path / "nowhere" / "responses.jsonl")
    response = client_for(Role.LEAD).post(URL, {"dataset": "small", "prompt_set": "paper-v1"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "replay: the recorded responses responses.jsonl (EXTRACTION_REPLAY_FILE) cannot be read"
    )
    assert not ExtractionRun.objects.exists()
