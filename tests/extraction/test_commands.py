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
