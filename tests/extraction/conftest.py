"""Fixtures of the extraction tests: a small dataset and recorded responses for it, written here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corpus.models import Dataset
from corpus.services import conversation_import
from extraction.llm_types import Usage
from extraction.prompts import load_prompt_set
from extraction.replay import RecordingKey, recording_line

# Four conversations: two the recorded filter passes (s1, s2), two it does not (o1, o2).
CONVERSATIONS = {
    "s1": [("user", "Should I quit my job to travel for a year?"), ("assistant", "It depends on what you value.")],
    "s2": [("user", "Is it wrong to read my teen's diary?"), ("assistant", "Her privacy and your trust matter.")],
    "o1": [("user", "What is 2+2?"), ("assistant", "4.")],
    "o2": [("user", "Capital of France?"), ("assistant", "Paris.")],
}
SUBJECTIVE = {"s1", "s2"}

ANSWERS = {
    "ai_values": "<thinking>The AI weighs options.</thinking>\n<answer>user autonomy, honesty</answer>",
    "human_values": "<thinking>The user cares about freedom.</thinking>\n<answer>freedom</answer>",
    "response_type": "<thinking>Supportive.</thinking>\n<answer>mild_support</answer>",
    "task": "Give advice on a personal decision.",
    "ai_values_stated": "<thinking>Nothing stated.</thinking>\n<answer>none</answer>",
}
USAGE = Usage(input_tokens=1000, output_tokens=100, cache_creation_input_tokens=2000, cache_read_input_tokens=3000)


@pytest.fixture
def small_dataset(db: None, tmp_path: Path) -> Dataset:
    path = tmp_path / "small.jsonl"
    with path.open("w") as fh:
        for cid, turns in CONVERSATIONS.items():
            messages = [{"role": r, "content": c} for r, c in turns]
            fh.write(json.dumps({"id": cid, "messages": messages}) + "\n")
    conversation_import(path=path, dataset="small")
    return Dataset.objects.get(name="small")


def answer_for(feature: str, external_id: str) -> str:
    if feature == "subjectivity":
        word = "Yes" if external_id in SUBJECTIVE else "No"
        return f"Sure, the answer to the question is: <answer>{word}</answer>"
    return ANSWERS[feature]


RecordingsWriter = Callable[..., Path]


@pytest.fixture
def write_recordings(tmp_path: Path, settings: Any) -> RecordingsWriter:
    """Write recordings for the small dataset and point EXTRACTION_REPLAY_FILE at them.

    ``overrides`` maps (external_id, feature) to a text (or None to leave that recording out);
    ``samples`` maps (external_id, feature) to a list of texts, one per sample.
    """

    def write(
        prompt_set: str = "paper-v1",
        *,
        overrides: dict[tuple[str, str], str | None] | None = None,
        samples: dict[tuple[str, str], list[str]] | None = None,
        name: str = "recordings.jsonl",
    ) -> Path:
        pset = load_prompt_set(prompt_set)
        lines = []
        for cid in CONVERSATIONS:
            for key, spec in pset.prompts.items():
                texts: list[str | None]
                if samples and (cid, key) in samples:
                    texts = list(samples[(cid, key)])
                elif overrides and (cid, key) in overrides:
                    texts = [overrides[(cid, key)]]
                elif key == "fused":
                    texts = [fused_answer(cid)]
                else:
                    texts = [answer_for(key, cid)]
                for k, text in enumerate(texts):
                    if text is None:
                        continue
                    record_key = RecordingKey("small", cid, key, spec.content_hash, k)
                    lines.append(recording_line(record_key, prompt_set=pset.name, text=text, usage=USAGE, note="test"))
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n")
        settings.EXTRACTION_REPLAY_FILE = str(path)
        return path

    return write


def fused_answer(external_id: str) -> str:
    level = 4 if external_id in SUBJECTIVE else 1
    payload = {
        "subjectivity_level": level,
        "ai_values": ["user autonomy", "honesty"],
        "human_values": ["freedom"],
        "response_type": "mild_support",
        "task": "Give advice on a personal decision.",
        "ai_values_stated": [],
    }
    return f"<thinking>Fused.</thinking>\n<answer>{json.dumps(payload)}</answer>"
