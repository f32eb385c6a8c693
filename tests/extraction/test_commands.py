"""The extract, extraction_report and check_recordings commands."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from extraction.models import Extraction, ExtractionRun, RunStatus
from tests.extraction.conftest import RecordingsWriter


def run_command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_extract_with_replay_then_rerun_resumes_nothing(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    write_recordings()
    out = run_command("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "replay", "--no-progress")
    assert "-> succeeded" in out
    assert "items 14: done 14 (parse errors 0), failed 0, pending 0" in out
    assert "per 1,000 conversations" in out
    again = run_command(
        "extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "replay", "--no-progress"
    )
    assert "already extracted every item" in again
    assert Extraction.objects.count() == 14
    assert ExtractionRun.objects.count() == 1
    # Other options (here: a limit) make a new run, which finds its items already done.
    args = ("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "replay", "--no-progress")
    limited = run_command(*args, "--limit", "2")
    assert "created" in limited
    assert "-> succeeded" in limited
    assert Extraction.objects.count() == 14


@pytest.mark.django_db
def test_extract_resumes_an_unfinished_run(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    write_recordings(overrides={("s1", "task"): None})
    with pytest.raises(CommandError, match="no recorded response for conversation 's1'"):
        run_command("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "replay", "--no-progress")
    run = ExtractionRun.objects.get()
    assert run.status == RunStatus.FAILED
    write_recordings(name="complete.jsonl")
    out = run_command("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "replay", "--no-progress")
    assert f"run {run.pk}: resuming" in out
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert ExtractionRun.objects.count() == 1


@pytest.mark.django_db
def test_extract_reports_bad_options_without_traceback(small_dataset: Any) -> None:
    with pytest.raises(CommandError, match="no dataset named 'nope'"):
        run_command("extract", "--dataset", "nope", "--prompts", "paper-v1", "--provider", "replay")
    with pytest.raises(CommandError, match="expected FEATURE=MODEL"):
        run_command("extract", "--dataset", "small", "--prompts", "paper-v1", "--model", "claude")


@pytest.mark.django_db
def test_report_lists_parse_errors_with_raw_text(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    bad = "<thinking>x</thinking><answer>very supportive</answer>"
    write_recordings(overrides={("s2", "response_type"): bad})
    run_command("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "replay", "--no-progress")
    run = ExtractionRun.objects.get()
    text = run_command("extraction_report", str(run.pk))
    assert "s2 response_type [parse_error]: response type 'very supportive' is not one of" in text
    assert "raw: <thinking>x</thinking><answer>very supportive</answer>" in text
    report = json.loads(run_command("extraction_report", str(run.pk), "--json"))
    assert report["failures"][0]["raw_text"] == bad
    with pytest.raises(CommandError, match="no extraction run 999"):
        run_command("extraction_report", "999")


@pytest.mark.django_db
def test_check_recordings(small_dataset: Any, write_recordings: RecordingsWriter) -> None:
    path = write_recordings()
    out = run_command("check_recordings", "--dataset", "small", "--prompts", "paper-v1", "--file", str(path))
    assert "14 items checked" in out
    assert ": ok" in out
    write_recordings(overrides={("s2", "human_values"): None, ("o1", "human_values"): None}, name="partial.jsonl")
    buffer = StringIO()
    with pytest.raises(CommandError, match="do not cover"):
        call_command("check_recordings", "--dataset", "small", "--prompts", "paper-v1", stdout=buffer)
    # o1 is not subjective, so its value features are not needed; s2's missing recording is reported.
    assert "1 missing" in buffer.getvalue()
    assert "conversation 's2' of dataset 'small', feature 'human_values'" in buffer.getvalue()


def closed_port_url() -> str:
    """A local URL nothing listens on (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def live_settings(settings: Any) -> Any:
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.REDIS_URL = ""  # the in-process rate limiter
    settings.LLM_REQUESTS_PER_MINUTE = 60_000
    settings.LLM_MAX_RETRIES = 1
    settings.EXTRACTION_BATCH_POLL_S = 0.05
    return settings


@pytest.mark.django_db
def test_extract_without_api_key_says_what_to_set_and_writes_nothing(small_dataset: Any, live_settings: Any) -> None:
    live_settings.ANTHROPIC_API_KEY = ""
    for extra in ((), ("--batch",)):
        with pytest.raises(CommandError) as err:
            run_command("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "anthropic", *extra)
        assert str(err.value) == (
            "ANTHROPIC_API_KEY is not set: export it (or use the replay provider, which needs no key)"
        )
    assert ExtractionRun.objects.count() == 0


@pytest.mark.django_db
def test_extract_with_the_api_unreachable_fails_the_items_and_resumes_later(
    small_dataset: Any, live_settings: Any, fake_anthropic: Any
) -> None:
    live_settings.ANTHROPIC_BASE_URL = closed_port_url()
    buffer = StringIO()
    args = ("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "anthropic", "--no-progress")
    with pytest.raises(CommandError, match="ended failed: 4 item"):
        call_command(*args, stdout=buffer)
    report = buffer.getvalue()
    # The filter of each conversation failed (the gated features were not asked), each with the reason.
    assert "items 4: done 0 (parse errors 0), failed 4, pending 0" in report
    assert report.count("[failed]: APIConnectionError") == 4
    assert f"{live_settings.ANTHROPIC_BASE_URL} ([Errno 111] Connection refused)" in report
    assert "check ANTHROPIC_BASE_URL" in report

    fake_anthropic.config.subjective_fraction = 1.0
    live_settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url
    out = run_command(*args)
    run = ExtractionRun.objects.get()
    assert f"run {run.pk}: resuming" in out
    # A recount after the first conversation sees the other three still failed; the run ends succeeded.
    assert "-> succeeded" in out
    run.refresh_from_db()
    assert (run.status, run.done_items, run.failed_items) == (RunStatus.SUCCEEDED, 4 * 6, 0)


@pytest.mark.django_db
def test_batch_extract_with_the_api_unreachable_keeps_the_run_to_resume(
    small_dataset: Any, live_settings: Any, fake_anthropic: Any
) -> None:
    from extraction.models import BatchStatus, ExtractionBatch

    live_settings.ANTHROPIC_BASE_URL = closed_port_url()
    args = ("extract", "--dataset", "small", "--prompts", "paper-v1", "--provider", "anthropic", "--batch")
    with pytest.raises(CommandError) as err:
        run_command(*args, "--no-progress")
    run = ExtractionRun.objects.get()
    message = str(err.value)
    assert message.startswith("batch create: APIConnectionError: Connection error. http://127.0.0.1:")
    assert message.endswith(f"run {run.pk} is kept: run the same command again to resume it")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "Connection refused" in run.error
    assert ExtractionBatch.objects.get().status == BatchStatus.SUBMITTING

    fake_anthropic.config.batch_processing_s = 0.05
    live_settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url
    out = run_command(*args, "--no-progress")
    assert f"run {run.pk}: resuming" in out
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert not ExtractionBatch.objects.filter(status=BatchStatus.SUBMITTING).exists()
