"""Parse a model's answer to one of the paper's feature prompts into normalised labels.

Pure (no Django): ``parse_output(feature, raw) -> ParsedOutput``. ``raw`` is the whole assistant
turn, prefill included (e.g. ``"<thinking>…</thinking><answer>x, y</answer>"``), as the prompts of
Huang et al., "Values in the Wild" (arXiv 2504.15236), Appendix A.2-A.3 ask for it.

Rules, per output kind:

- **values** (AI values, human values, AI values stated): the ``<answer>`` is split on commas (and
  line breaks), each value trimmed, stripped of quotes and a final period, lower-cased, inner
  whitespace collapsed, de-duplicated keeping the first occurrence. ``none`` means "no values"
  (empty labels).
- **response type**: exactly one of the seven options of Appendix A.3.3. The paper's spellings are
  accepted: quotes/backticks/brackets around it, spaces or hyphens for underscores, any case, and
  the British "acknowledgement". Anything else is a parse error.
- **subjectivity**: the published prompt answers ``Yes``/``No`` (Levels 3-4 → yes). A level
  ("Level 3", or a bare digit 1-4) is accepted as well and kept in ``level``; a level implies the
  yes/no, and a level that contradicts an explicit yes/no is a parse error. ``labels`` is always
  ``("yes",)`` or ``("no",)``; ``passes`` is True for yes.
- **task**: free text (the prompt of Appendix A.3.4 asks no format): the ``<answer>`` if present,
  otherwise the text outside ``<thinking>``; trimmed, whitespace collapsed, case kept.

An output without an answer, or with an answer outside the vocabulary, gives ``error`` (the caller
keeps the raw text); parsing never raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from extraction.features import (
    RESPONSE_TYPES,
    SUBJECTIVE_LEVELS,
    SUBJECTIVITY_NO,
    SUBJECTIVITY_YES,
    VALUE_FEATURE_NAMES,
    FeatureName,
)

_THINKING = re.compile(r"<thinking>(.*?)(?:</thinking>|(?=<answer>)|\Z)", re.S | re.I)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|(?=<answer>)|\Z)", re.S | re.I)
_TAG = re.compile(r"</?(?:thinking|answer)>", re.I)
# Quote characters around a value: ASCII, typographic, and the LaTeX ``…'' of the paper's text.
_QUOTES = "\"'`“”‘’«»[]"


@dataclass(frozen=True)
class ParsedOutput:
    labels: tuple[str, ...]
    thinking: str
    error: str | None = None
    level: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def passes(self) -> bool | None:
        """For subjectivity: whether the conversation passes the filter (None for other features)."""
        if not self.labels or self.labels[0] not in (SUBJECTIVITY_YES, SUBJECTIVITY_NO):
            return None
        return self.labels[0] == SUBJECTIVITY_YES


def parse_output(feature: str, raw: str) -> ParsedOutput:
    """Parse ``raw`` (the assistant turn, prefill included) for ``feature``; never raises."""
    if not isinstance(raw, str):
        return ParsedOutput((), "", f"output is {type(raw).__name__}, not text")
    thinking = _thinking(raw)
    answer = _answer(raw)
    if feature in VALUE_FEATURE_NAMES:
        return _parse_values(answer, thinking)
    if feature == FeatureName.RESPONSE_TYPE:
        return _parse_response_type(answer, thinking)
    if feature == FeatureName.SUBJECTIVITY:
        return _parse_subjectivity(answer if answer is not None else _outside_thinking(raw), thinking)
    if feature == FeatureName.TASK:
        return _parse_task(answer if answer is not None else _outside_thinking(raw), thinking)
    return ParsedOutput((), thinking, f"unknown feature {feature!r}")


def normalise_value(value: str) -> str:
    """One value as stored: trimmed, unquoted, no final period, lower-case, single spaces."""
    text = value.replace("``", '"').replace("''", '"')
    text = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", text)  # a list bullet, if the model made a list
    text = text.strip().strip(_QUOTES).strip().rstrip(".;:").strip().strip(_QUOTES).strip()
    return " ".join(text.lower().split())


def split_values(answer: str) -> tuple[str, ...]:
    """Split an answer on commas and line breaks, normalise, de-duplicate (first wins), drop 'none'."""
    seen: dict[str, None] = {}
    for piece in re.split(r"[,\n]", answer):
        value = normalise_value(piece)
        if value and value != "none":
            seen.setdefault(value, None)
    return tuple(seen)


def _thinking(raw: str) -> str:
    match = _THINKING.search(raw)
    return match.group(1).strip() if match else ""


def _answer(raw: str) -> str | None:
    """The last ``<answer>`` block (models sometimes quote the format inside their thinking)."""
    matches = _ANSWER.findall(raw)
    return matches[-1].strip() if matches else None


def _outside_thinking(raw: str) -> str:
    text = _THINKING.sub("", raw)
    return _TAG.sub("", text).strip()


def _parse_values(answer: str | None, thinking: str) -> ParsedOutput:
    if answer is None:
        return ParsedOutput((), thinking, "no <answer> in the output")
    if not answer.strip():
        return ParsedOutput((), thinking, "empty <answer>")
    return ParsedOutput(split_values(answer), thinking)


def _normalise_response_type(answer: str) -> str:
    text = answer.replace("``", "").replace("''", "")
    text = text.strip().strip(_QUOTES + " .").strip()
    text = re.sub(r"[\s-]+", "_", text.lower())
    return text.replace("acknowledgement", "acknowledgment")


def _parse_response_type(answer: str | None, thinking: str) -> ParsedOutput:
    if answer is None:
        return ParsedOutput((), thinking, "no <answer> in the output")
    label = _normalise_response_type(answer)
    if label in RESPONSE_TYPES:
        return ParsedOutput((label,), thinking)
    shown = answer if len(answer) <= 80 else answer[:77] + "..."
    return ParsedOutput((), thinking, f"response type {shown!r} is not one of {', '.join(RESPONSE_TYPES)}")


_YES_NO = re.compile(r"\b(yes|no)\b", re.I)
_LEVEL = re.compile(r"\blevel\s*([1-4])\b|^\s*([1-4])\s*$", re.I)


def _parse_subjectivity(answer: str, thinking: str) -> ParsedOutput:
    words = {m.lower() for m in _YES_NO.findall(answer)}
    levels = {int(a or b) for a, b in _LEVEL.findall(answer)}
    if len(words) > 1:
        return ParsedOutput((), thinking, "subjectivity answer says both yes and no")
    if len(levels) > 1:
        return ParsedOutput((), thinking, f"subjectivity answer gives several levels: {sorted(levels)}")
    level = next(iter(levels), None)
    word = next(iter(words), None)
    if word is None and level is None:
        shown = answer if len(answer) <= 80 else answer[:77] + "..."
        return ParsedOutput((), thinking, f"subjectivity answer {shown!r} has neither yes/no nor a level 1-4")
    implied = None if level is None else (SUBJECTIVITY_YES if level in SUBJECTIVE_LEVELS else SUBJECTIVITY_NO)
    if word is not None and implied is not None and word != implied:
        return ParsedOutput((), thinking, f"subjectivity answer {word!r} contradicts level {level}", level)
    return ParsedOutput((word or implied or "",), thinking, None, level)


def _parse_task(answer: str, thinking: str) -> ParsedOutput:
    text = " ".join(answer.split())
    if not text:
        return ParsedOutput((), thinking, "empty task answer")
    return ParsedOutput((text,), thinking)


def parse_fused(raw: str, features: tuple[str, ...]) -> dict[str, ParsedOutput]:
    """Parse a fused answer (one JSON object in ``<answer>``) into one ParsedOutput per feature.

    Keys: ``subjectivity_level`` (1-4; ``subjectivity`` "yes"/"no" is accepted too), ``ai_values``,
    ``human_values``, ``ai_values_stated`` (lists of strings, or a comma-separated string),
    ``response_type`` and ``task`` (strings). Each value goes through the same rules as the
    single-feature prompts; a missing or malformed key is an error for that feature only, an
    unreadable JSON object an error for every feature.
    """
    if not isinstance(raw, str):
        return {f: ParsedOutput((), "", f"output is {type(raw).__name__}, not text") for f in features}
    thinking = _thinking(raw)
    answer = _answer(raw)
    if answer is None:
        return {f: ParsedOutput((), thinking, "no <answer> in the output") for f in features}
    body = re.sub(r"\A```(?:json)?\s*|\s*```\Z", "", answer.strip())
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return {f: ParsedOutput((), thinking, f"<answer> is not a JSON object: {exc}") for f in features}
    if not isinstance(data, dict):
        return {f: ParsedOutput((), thinking, "<answer> is not a JSON object") for f in features}
    return {f: _fused_feature(f, data, thinking) for f in features}


def _fused_feature(feature: str, data: dict[str, object], thinking: str) -> ParsedOutput:
    if feature == FeatureName.SUBJECTIVITY:
        level, word = data.get("subjectivity_level"), data.get("subjectivity")
        parts = []
        if isinstance(level, int | str) and not isinstance(level, bool):
            parts.append(f"Level {level}")
        if isinstance(word, str):
            parts.append(word)
        if not parts:
            return ParsedOutput((), thinking, "the answer lacks subjectivity_level")
        return _parse_subjectivity(" ".join(parts), thinking)
    if feature not in data:
        return ParsedOutput((), thinking, f"the answer lacks {feature!r}")
    value = data[feature]
    if feature in VALUE_FEATURE_NAMES:
        if isinstance(value, str):
            return ParsedOutput(split_values(value), thinking)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return ParsedOutput((), thinking, f"{feature} is not a list of strings")
        return ParsedOutput(split_values("\n".join(v.replace(",", " ") for v in value)), thinking)
    if not isinstance(value, str):
        return ParsedOutput((), thinking, f"{feature} is not a string")
    if feature == FeatureName.RESPONSE_TYPE:
        return _parse_response_type(value, thinking)
    if feature == FeatureName.TASK:
        return _parse_task(value, thinking)
    return ParsedOutput((), thinking, f"unknown feature {feature!r}")
