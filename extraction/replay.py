"""The replay provider: recorded responses instead of the API, so an analysis runs without a key.

A recording file is JSONL, one response per line::

    {"dataset": "sample", "external_id": "sample-001", "feature": "ai_values",
     "prompt_set": "paper-v1", "prompt_hash": "<PromptVersion.content_hash>", "sample": 0,
     "text": "<thinking>…</thinking><answer>…</answer>",
     "usage": {"input_tokens": 812, "output_tokens": 96, "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 3050},
     "note": "…"}

``text`` is the whole assistant turn, prefill included, as ``LLMResult.text``. ``feature`` is
"fused" for a fused prompt. ``sample`` (default 0) is the index of the sample when an item is
sampled N times. The key of a recording is (dataset, external id, feature, prompt hash, sample):
a response recorded for another version of the prompt is not replayed for this one.

``ReplayProvider`` implements the same ``complete(call)`` as the live client. A call carries only
its custom_id, so the caller first says which recording a custom_id stands for (``expect``).
A missing recording raises ``MissingRecordingError`` naming the conversation and the feature.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extraction.llm_types import LLMCall, LLMResult, Usage

RECORD_FIELDS = ("dataset", "external_id", "feature", "prompt_hash", "text")
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class RecordingFileError(ValueError):
    """The recording file is unreadable or a line is malformed (the message has file:line)."""


class MissingRecordingError(LookupError):
    """No recorded response for a call: the message names the conversation, the feature and the file."""


@dataclass(frozen=True)
class RecordingKey:
    dataset: str
    external_id: str
    feature: str
    prompt_hash: str
    sample: int = 0


@dataclass(frozen=True)
class Recording:
    key: RecordingKey
    prompt_set: str
    text: str
    usage: Usage
    line: int


def read_recordings(path: Path | str) -> dict[RecordingKey, Recording]:
    """Parse a recording file; a duplicated key or a malformed line raises RecordingFileError."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise RecordingFileError(f"{path}: cannot read recorded responses: {exc.strerror or exc}") from exc
    recordings: dict[RecordingKey, Recording] = {}
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _parse_line(path, number, line)
            if record.key in recordings:
                raise RecordingFileError(
                    f"{path}:{number}: duplicates line {recordings[record.key].line} "
                    f"({record.key.external_id}, {record.key.feature}, sample {record.key.sample})"
                )
            recordings[record.key] = record
    return recordings


def _parse_line(path: Path, number: int, line: str) -> Recording:
    where = f"{path}:{number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordingFileError(f"{where}: not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise RecordingFileError(f"{where}: expected a JSON object")
    missing = [f for f in RECORD_FIELDS if not isinstance(data.get(f), str)]
    if missing:
        raise RecordingFileError(f"{where}: missing or non-text field(s) {', '.join(missing)}")
    usage_raw: Any = data.get("usage") or {}
    if not isinstance(usage_raw, dict) or any(
        not isinstance(usage_raw.get(f, 0), int) or usage_raw.get(f, 0) < 0 for f in USAGE_FIELDS
    ):
        raise RecordingFileError(f"{where}: usage must map {', '.join(USAGE_FIELDS)} to non-negative integers")
    sample = data.get("sample", 0)
    if not isinstance(sample, int) or sample < 0:
        raise RecordingFileError(f"{where}: sample must be a non-negative integer")
    key = RecordingKey(data["dataset"], data["external_id"], data["feature"], data["prompt_hash"], sample)
    usage = Usage(**{f: int(usage_raw.get(f, 0)) for f in USAGE_FIELDS})
    return Recording(key, str(data.get("prompt_set", "")), data["text"], usage, number)


def recording_line(key: RecordingKey, *, prompt_set: str, text: str, usage: Usage, note: str) -> str:
    """One JSONL line for ``key`` (used to write recordings)."""
    return json.dumps(
        {
            "dataset": key.dataset,
            "external_id": key.external_id,
            "feature": key.feature,
            "prompt_set": prompt_set,
            "prompt_hash": key.prompt_hash,
            "sample": key.sample,
            "text": text,
            "usage": {f: getattr(usage, f) for f in USAGE_FIELDS},
            "note": note,
        },
        ensure_ascii=False,
    )


class ReplayProvider:
    """``complete(call)`` returns the recorded response for the recording ``expect``-ed for the call."""

    def __init__(self, recordings: dict[RecordingKey, Recording], *, source: str = "recordings") -> None:
        self.recordings = recordings
        self.source = source
        self._expected: dict[str, RecordingKey] = {}

    @classmethod
    def from_file(cls, path: Path | str) -> ReplayProvider:
        return cls(read_recordings(path), source=str(path))

    def expect(self, custom_id: str, key: RecordingKey) -> None:
        self._expected[custom_id] = key

    def missing(self, keys: Iterable[RecordingKey]) -> Iterator[RecordingKey]:
        return (k for k in keys if k not in self.recordings)

    def describe_missing(self, key: RecordingKey) -> str:
        others = sorted(
            {
                r.key.prompt_hash[:12]
                for r in self.recordings.values()
                if (r.key.dataset, r.key.external_id, r.key.feature) == (key.dataset, key.external_id, key.feature)
            }
        )
        hint = (
            f"; recordings exist for other prompt versions ({', '.join(others)}): the prompt changed since they were"
            " recorded"
            if others
            else ""
        )
        return (
            f"no recorded response for conversation {key.external_id!r} of dataset {key.dataset!r}, feature "
            f"{key.feature!r}, prompt version {key.prompt_hash[:12]}, sample {key.sample} in {self.source}{hint}"
        )

    def complete(self, call: LLMCall) -> LLMResult:
        key = self._expected.get(call.custom_id)
        if key is None:
            raise MissingRecordingError(f"replay: request {call.custom_id!r} was not announced with expect()")
        recording = self.recordings.get(key)
        if recording is None:
            raise MissingRecordingError(self.describe_missing(key))
        return LLMResult(custom_id=call.custom_id, text=recording.text, usage=recording.usage, latency_ms=0)
