"""The replay provider: reading recordings, clear errors, and the sample dataset's recordings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extraction.llm_types import LLMCall, PromptParts, Usage
from extraction.replay import (
    MissingRecordingError,
    RecordingFileError,
    RecordingKey,
    ReplayProvider,
    read_recordings,
    recording_line,
)

REPO = Path(__file__).resolve().parents[2]
KEY = RecordingKey("ds", "conv-1", "ai_values", "a" * 64)


def call(custom_id: str = "r1-c1-ai_values-s0") -> LLMCall:
    return LLMCall(custom_id=custom_id, model="m", parts=PromptParts("s", "t", "i", "<thinking>"), max_tokens=10)


def test_replays_the_recorded_text_and_usage(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    usage = Usage(10, 2, 3, 4)
    path.write_text(recording_line(KEY, prompt_set="p", text="<thinking>x</thinking>", usage=usage, note="n") + "\n")
    provider = ReplayProvider.from_file(path)
    provider.expect("r1-c1-ai_values-s0", KEY)
    result = provider.complete(call())
    assert (result.text, result.usage, result.error) == ("<thinking>x</thinking>", usage, None)


def test_missing_recording_names_conversation_feature_and_file(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("")
    provider = ReplayProvider.from_file(path)
    provider.expect("r1-c1-ai_values-s0", KEY)
    with pytest.raises(MissingRecordingError) as err:
        provider.complete(call())
    message = str(err.value)
    assert "conversation 'conv-1' of dataset 'ds', feature 'ai_values'" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1]", "expected a JSON object"),
        ('{"dataset": "d", "external_id": "e", "feature": "f", "prompt_hash": "h"}', r"field\(s\) text"),
        (
            '{"dataset": "d", "external_id": "e", "feature": "f", "prompt_hash": "h", "text": "t", '
            '"usage": {"input_tokens": -1}}',
            "non-negative integers",
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "r.jsonl"
    good = recording_line(KEY, prompt_set="p", text="t", usage=Usage(), note="n")
    path.write_text(good + "\n\n" + line + "\n")
    with pytest.raises(RecordingFileError, match=rf"{path}:3: .*{message}"):
        read_recordings(path)


def test_duplicate_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line = recording_line(KEY, prompt_set="p", text="t", usage=Usage(), note="n")
    path.write_text(line + "\n" + line + "\n")
    with pytest.raises(RecordingFileError, match=":2: duplicates line 1"):
        read_recordings(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingFileError, match="cannot read recorded responses"):
        read_recordings(tmp_path / "absent.jsonl")


def test_sample_recordings_are_marked_as_written_for_the_sample() -> None:
    lines = (REPO / "sample" / "responses.jsonl").read_text().splitlines()
    assert len(lines) >= 300
    for line in lines:
        record = json.loads(line)
        assert "written by hand for the project's sample dataset" in record["note"]
        assert record["dataset"] == "sample"


@pytest.mark.django_db
def test_sample_recordings_cover_the_sample_for_every_prompt_set() -> None:
    from corpus.services import conversation_import
    from extraction.selectors import recordings_coverage

    conversations = REPO / "sample" / "conversations.jsonl"
    if not conversations.exists():
        pytest.fail(f"{conversations} is missing: the sample dataset is part of the repository")
    conversation_import(path=conversations, dataset="sample")
    path = str(REPO / "sample" / "responses.jsonl")
    for prompt_set, expected in (("paper-v1", 300), ("fused-v1", 50), ("paper-v2", 50)):
        report = recordings_coverage(dataset="sample", prompt_set=prompt_set, path=path, all_conversations=True)
        assert report.missing == []
        assert report.checked == expected
