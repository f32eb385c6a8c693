"""What the fake Anthropic server answers: deterministic synthetic answers in the paper's format, token counts,
and the request checks the real API makes (see ``server.py``)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

CACHE_TTL_S = 300.0

VALUES = (
    "helpfulness",
    "harm prevention",
    "honesty",
    "transparency",
    "user autonomy",
    "ethical boundaries",
    "legal compliance",
    "empathy",
    "respect",
    "personal safety",
    "accuracy",
    "professionalism",
    "emotional support",
    "privacy protection",
    "fairness",
    "curiosity",
    "efficiency",
    "authenticity",
)
RESPONSE_TYPES = (
    "strong_support",
    "mild_support",
    "neutral_acknowledgment",
    "reframing",
    "mild_resistance",
    "strong_resistance",
    "no_values",
)
TASKS = (
    "answer a factual question",
    "give advice on a personal situation",
    "explain how to do something harmful",
    "write or edit text",
    "discuss an opinion",
    "provide emotional support",
    "help with a practical problem",
)


def _feature_of_title(title: str) -> str | None:
    """A feature from the name a request gives it ("AI values (stated)", "Subjectivity filter", "task"...)."""
    t = title.lower().replace("_", " ")
    for word, feature in (
        ("stated", "ai_values_stated"),
        ("subjectiv", "subjectivity"),
        ("response", "response_type"),
        ("human", "human_values"),
        ("task", "task"),
        ("ai values", "ai_values"),
    ):
        if word in t:
            return feature
    return None


# Distinctive phrases of the published prompts (paper Appendix A.2-A.3), for requests that inline them.
_PHRASES = (
    ("subjective judgments", "subjectivity"),
    ("reinforce, oppose, or reframe", "response_type"),
    ("explicitly expresses through", "ai_values_stated"),
    ("directly or explicitly express", "ai_values_stated"),
    ("user's (human's) messages", "human_values"),
    ("asked to perform", "task"),
    ("ai assistant's messages", "ai_values"),
)
ALL_FEATURES = ("subjectivity", "ai_values", "human_values", "response_type", "task", "ai_values_stated")


def count_tokens(text: str) -> int:
    return len(text) // 4


def min_cacheable_tokens(model: str) -> int:
    return 2048 if "haiku" in model.lower() else 1024


def block_texts(content: Any) -> list[tuple[str, bool]]:
    """(text, has cache_control) for each block of a system or message content value."""
    if isinstance(content, str):
        return [(content, False)]
    out = []
    for block in content or []:
        if isinstance(block, dict):
            text = block.get("text") or json.dumps(block.get("input", block.get("content", "")), sort_keys=True)
            out.append((str(text), bool(block.get("cache_control"))))
    return out


def prompt_segments(params: dict[str, Any]) -> list[tuple[str, bool]]:
    """The prompt as the API caches it: tools, then system, then messages; each with its breakpoint flag."""
    segments: list[tuple[str, bool]] = []
    for tool in params.get("tools") or []:
        segments.append((json.dumps(tool, sort_keys=True), bool(tool.get("cache_control"))))
    segments += block_texts(params.get("system") or [])
    for message in params.get("messages") or []:
        role = message.get("role", "")
        for text, cached in block_texts(message.get("content")):
            segments.append((f"{role}:{text}", cached))
    return segments


def input_tokens(params: dict[str, Any]) -> int:
    """The fake's stated input-token count of a request: ``count_tokens`` (characters // 4) of each segment of
    ``prompt_segments`` (tools as JSON, system blocks, message blocks prefixed by their role and ``:``), summed.
    ``usage`` bills this total (input + cache write + cache read) and ``/v1/messages/count_tokens`` answers it."""
    return sum(count_tokens(text) for text, _ in prompt_segments(params))


def validate_count_params(params: dict[str, Any]) -> str | None:
    """The checks of ``/v1/messages/count_tokens``: model and messages required, no ``max_tokens`` (nothing is
    generated), non-empty text blocks."""
    for name in ("model", "messages"):
        if name not in params:
            return f"{name}: Field required"
    for name in ("max_tokens", "temperature", "top_p", "top_k"):
        if name in params:
            return f"{name}: Extra inputs are not permitted"
    for message in params["messages"]:
        for text, _ in block_texts(message.get("content")):
            if not text:
                return "messages: text content blocks must be non-empty"
    return None


def naming_answer(params: dict[str, Any]) -> str | None:
    """A taxonomy-naming request (prompts/taxonomy/name_cluster.md) gets a name built from its first value."""
    messages = params.get("messages") or []
    text = " ".join(t for m in messages if m.get("role") == "user" for t, _ in block_texts(m.get("content")))
    found = re.search(r"<values>\s*-\s*([^\n]+)", text)
    if found is None or "<name>" not in text:
        return None
    first = found.group(1).strip()
    return f"<name>{first} and related values</name>\n<description>Values close to {first} (synthetic).</description>"


def detect_feature(params: dict[str, Any]) -> str:
    """Which feature a request asks for: the tail (last user block) first, then the whole prompt."""
    messages = params.get("messages") or []
    user_blocks = [t for m in messages if m.get("role") == "user" for t, _ in block_texts(m.get("content"))]
    tail = user_blocks[-1].lower() if user_blocks else ""
    match = re.search(r'analysis "([^"]+)"', tail)
    named = _feature_of_title(match.group(1)) if match else None
    if named:
        return named
    everything = " ".join(t.lower() for m in messages for t, _ in block_texts(m.get("content"))) + " ".join(
        t.lower() for t, _ in block_texts(params.get("system") or [])
    )
    if "subjectivity_level" in everything:
        return "fused"
    for phrase, feature in _PHRASES:
        if phrase in tail:
            return feature
    for phrase, feature in _PHRASES:
        if phrase in everything:
            return feature
    return "unknown"


def transcript_key(params: dict[str, Any]) -> str:
    """A hash of what the request shows of the conversation: the cached transcript block, else the user message."""
    messages = params.get("messages") or []
    user: dict[str, Any] = next((m for m in messages if m.get("role") == "user"), {})
    blocks = block_texts(user.get("content"))
    chosen = [t for t, cached in blocks if cached] or [t for t, _ in blocks[:1]]
    text = chosen[0] if chosen else ""
    m = re.search(r"<conversation>(.*?)</conversation>", text, re.S)
    if m:
        text = m.group(1)
    return hashlib.sha256(text.strip().encode()).hexdigest()


def _pick(h: bytes, i: int, options: tuple[str, ...]) -> str:
    return options[h[i] % len(options)]


def synthetic_answer(feature: str, transcript_key: str, *, subjective_fraction: float) -> tuple[str, str]:
    """(thinking, answer) for a feature, derived only from the transcript hash and the feature."""
    h = hashlib.sha256(f"{transcript_key}:{feature}".encode()).digest()
    if feature == "subjectivity":
        passes = int.from_bytes(hashlib.sha256(transcript_key.encode()).digest()[:4], "big") / 2**32
        return "", "Yes" if passes < subjective_fraction else "No"
    if feature in ("ai_values", "human_values", "ai_values_stated"):
        n = h[0] % 4  # 0 -> "none"
        if n == 0:
            return "No values are clearly expressed in these messages.", "none"
        values = []
        for i in range(1, 1 + n):
            v = _pick(h, i, VALUES)
            if v not in values:
                values.append(v)
        return "The messages show " + " and ".join(values) + ".", ", ".join(values)
    if feature == "response_type":
        label = _pick(h, 1, RESPONSE_TYPES)
        return f"The assistant's response fits {label}.", label
    if feature == "task":
        task = _pick(h, 1, TASKS)
        return "The user asks the assistant to " + task + ".", task
    if feature == "fused":
        # The keys of the fused prompt set's JSON answer; the same labels as the single-feature answers.
        each = {
            f: synthetic_answer(f, transcript_key, subjective_fraction=subjective_fraction)[1] for f in ALL_FEATURES
        }
        payload: dict[str, Any] = {
            "subjectivity_level": 3 + h[5] % 2 if each["subjectivity"] == "Yes" else 1 + h[5] % 2
        }
        for f in ("ai_values", "human_values", "ai_values_stated"):
            payload[f] = [] if each[f] == "none" else each[f].split(", ")
        payload["response_type"] = each["response_type"]
        payload["task"] = each["task"]
        return "Considering subjectivity, values and the response.", json.dumps(payload)
    return "", "none"


def render_completion(prefill: str, thinking: str, answer: str, *, malformed: bool) -> str:
    """The completion that follows ``prefill`` so that prefill + completion is in the paper's format."""
    full_answer = answer if malformed else f"<answer>{answer}</answer>"
    if prefill.rstrip().endswith("<answer>"):
        return answer if malformed else f"{answer}</answer>"
    body = f"\n{thinking or 'Considering the conversation.'}\n</thinking>\n{full_answer}"
    if prefill.rstrip().endswith("<thinking>"):
        return body
    return "<thinking>" + body


def _refuses_prefill(model: str) -> bool:
    """As the real API: models of the 4.6 generation and later refuse a prefilled assistant turn."""
    match = re.match(r"claude-[a-z]+-(\d+)(?:-(\d{1,2}))?(?:-|$)", model)
    return match is not None and (int(match.group(1)), int(match.group(2) or 0)) >= (4, 6)


def validate_params(params: dict[str, Any]) -> str | None:
    """The request checks of the API version the SDK sends (2026-10-21) that our client could get wrong."""
    for name in ("model", "max_tokens", "messages"):
        if name not in params:
            return f"{name}: Field required"
    for name in ("temperature", "top_p", "top_k"):
        if name in params:
            return f"{name}: Extra inputs are not permitted"
    breakpoints = sum(1 for _, cached in prompt_segments(params) if cached)
    if breakpoints > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."
    for message in params["messages"]:
        for text, _ in block_texts(message.get("content")):
            if not text:
                return "messages: text content blocks must be non-empty"
    last = params["messages"][-1] if params["messages"] else {}
    if last.get("role") == "assistant" and _refuses_prefill(str(params["model"])):
        return "This model does not support assistant message prefill. The conversation must end with a user message."
    if last.get("role") == "assistant":
        text = "".join(t for t, _ in block_texts(last.get("content")))
        if text != text.rstrip():
            return "messages: final assistant content cannot end with trailing whitespace"
    return None


def params_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]


_ERRORS = {
    429: ("rate_limit_error", "Number of requests has exceeded your per-minute rate limit (fake server)"),
    500: ("api_error", "Internal server error (fake server)"),
    529: ("overloaded_error", "Overloaded (fake server)"),
    400: ("invalid_request_error", "Invalid request (fake server)"),
    404: ("not_found_error", "Not found (fake server)"),
    401: ("authentication_error", "invalid x-api-key (fake server)"),
}


def error_body(status: int) -> dict[str, Any]:
    kind, message = _ERRORS.get(status, ("api_error", f"HTTP {status} (fake server)"))
    return {"type": "error", "error": {"type": kind, "message": message}}
