"""A local fake of the Anthropic Messages and Message Batches APIs, over real HTTP.

The real ``anthropic`` SDK talks to it through ``base_url``; nothing in the SDK is patched. It is a
test double for the *remote end*, so tests and benchmarks exercise our client, retries, rate
limiter and batch handling as they would run against the API:

* ``POST /v1/messages`` answers in the paper's format (``<thinking>…</thinking><answer>…</answer>``),
  deterministically from a hash of the transcript and the feature the request asks for, so the
  same request always gets the same answer and extraction works end to end. The answers are
  synthetic (made up by this fake), not model output.
* Faults on demand: latency, a requests-per-minute limit answered with 429 and ``retry-after``,
  529 "overloaded" storms (a fraction, a time window or a scripted sequence), 5xx, stalls longer
  than the client's timeout, malformed answers (no ``<answer>`` tags).
* ``usage`` follows the prompt-caching rules: the prefix up to each ``cache_control`` breakpoint
  (tools -> system -> messages) is looked up; the longest cached one is a read, longer breakpoint
  prefixes are written; prefixes under the model's minimum cacheable length (1024 tokens, 2048 for
  Haiku-class models) are never cached; entries live 5 minutes, refreshed on each hit.
* Batches: create, list (newest first; ``limit``, ``before_id``, ``after_id`` as the API pages),
  retrieve, results (JSONL), cancel; processed in the background.
* Every request is recorded (``FakeAnthropic.log``), so tests count duplicates and batch creations.

Token counts are approximate (``len(text) // 4``), like the client's own estimate.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


@dataclass
class FakeConfig:
    """Behaviour of the fake; change attributes at any time (tests do), they apply to the next request."""

    latency_ms: float = 0.0
    rpm: int = 0  # 0: no limit; otherwise a token bucket of this rate per minute
    rpm_burst: int = 0  # bucket capacity; 0: one second's worth of the rate (at least 1)
    overload_fraction: float = 0.0  # share of requests answered 529
    overload_until: float = 0.0  # time.monotonic() before which every request is answered 529 (a storm)
    error_fraction: float = 0.0  # share answered 500
    malformed_fraction: float = 0.0  # share of answers without <answer> tags
    malformed_features: frozenset[str] = frozenset()  # features whose answers are always malformed
    subjective_fraction: float = 0.6  # share of conversations the subjectivity answer passes
    stall_s: float = 0.0  # with stall_count > 0: the next requests sleep this long (client timeouts)
    stall_count: int = 0
    scripted: deque[int] = field(default_factory=deque)  # statuses for the next requests, e.g. [429, 529]
    retry_after_s: float | None = None  # fixed retry-after for scripted/storm answers (else computed)
    batch_processing_s: float = 0.2  # time a batch stays in_progress
    cache_ttl_s: float = CACHE_TTL_S
    seed: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # time.monotonic()
    kind: str  # "message" | "batch_item" | "batch_create" | ...
    status: int
    key: str  # hash of the request parameters (same request -> same key)
    feature: str
    model: str
    custom_id: str = ""
    usage: dict[str, int] | None = None


def _block_texts(content: Any) -> list[tuple[str, bool]]:
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
    segments += _block_texts(params.get("system") or [])
    for message in params.get("messages") or []:
        role = message.get("role", "")
        for text, cached in _block_texts(message.get("content")):
            segments.append((f"{role}:{text}", cached))
    return segments


def _naming_answer(params: dict[str, Any]) -> str | None:
    """A taxonomy-naming request (prompts/taxonomy/name_cluster.md) gets a name built from its first value."""
    messages = params.get("messages") or []
    text = " ".join(t for m in messages if m.get("role") == "user" for t, _ in _block_texts(m.get("content")))
    found = re.search(r"<values>\s*-\s*([^\n]+)", text)
    if found is None or "<name>" not in text:
        return None
    first = found.group(1).strip()
    return f"<name>{first} and related values</name>\n<description>Values close to {first} (synthetic).</description>"


def detect_feature(params: dict[str, Any]) -> str:
    """Which feature a request asks for: the tail (last user block) first, then the whole prompt."""
    messages = params.get("messages") or []
    user_blocks = [t for m in messages if m.get("role") == "user" for t, _ in _block_texts(m.get("content"))]
    tail = user_blocks[-1].lower() if user_blocks else ""
    match = re.search(r'analysis "([^"]+)"', tail)
    named = _feature_of_title(match.group(1)) if match else None
    if named:
        return named
    everything = " ".join(t.lower() for m in messages for t, _ in _block_texts(m.get("content"))) + " ".join(
        t.lower() for t, _ in _block_texts(params.get("system") or [])
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


def _transcript_key(params: dict[str, Any]) -> str:
    """A hash of what the request shows of the conversation: the cached transcript block, else the user message."""
    messages = params.get("messages") or []
    user: dict[str, Any] = next((m for m in messages if m.get("role") == "user"), {})
    blocks = _block_texts(user.get("content"))
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


class _TokenBucket:
    def __init__(self, rate_per_s: float, capacity: float) -> None:
        self.rate = rate_per_s
        self.capacity = capacity
        self.tokens = capacity
        self.at = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class _Batch:
    def __init__(self, batch_id: str, requests: list[dict[str, Any]]) -> None:
        self.id = batch_id
        self.requests = requests
        self.created_at = datetime.now(UTC)
        self.ended_at: datetime | None = None
        self.cancel_initiated_at: datetime | None = None
        self.results: dict[str, dict[str, Any]] = {}
        self.status = "in_progress"


class FakeAnthropic:
    """The fake's state and logic; ``serve()`` puts it behind a threaded HTTP server."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._cache: dict[tuple[str, str], float] = {}
        self._bucket: _TokenBucket | None = None
        self._bucket_rpm = 0
        self.batches: dict[str, _Batch] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- bookkeeping -------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self._cache.clear()
            self.batches.clear()
            self._bucket = None

    def requests(self, kind: str = "message", status: int | None = 200) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.kind == kind and (status is None or r.status == status)]

    def duplicates(self) -> dict[str, int]:
        """Request keys answered 200 more than once (kind "message"), with their counts."""
        counts: dict[str, int] = {}
        for r in self.requests("message", 200):
            counts[r.key] = counts.get(r.key, 0) + 1
        return {k: n for k, n in counts.items() if n > 1}

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    # ---- message logic -----------------------------------------------------------------------
    def _usage(self, params: dict[str, Any], output_tokens: int) -> dict[str, int]:
        model = str(params.get("model", ""))
        segments = prompt_segments(params)
        total = sum(count_tokens(t) for t, _ in segments)
        minimum = min_cacheable_tokens(model)
        # Cumulative prefix hash and length at each breakpoint (max 4, as the API allows).
        digest = hashlib.sha256(model.encode())
        length = 0
        breakpoints: list[tuple[str, int]] = []
        for text, cached in segments:
            digest.update(b"\x00" + text.encode())
            length += count_tokens(text)
            if cached:
                breakpoints.append((digest.hexdigest(), length))
        breakpoints = breakpoints[:4]
        now = time.monotonic()
        read = 0
        with self._lock:
            for key, n in breakpoints:
                expiry = self._cache.get((model, key))
                if expiry is not None and expiry > now and n >= minimum:
                    read = max(read, n)
            written = read
            for key, n in breakpoints:
                if n < minimum:
                    continue
                self._cache[(model, key)] = now + self.config.cache_ttl_s  # a hit refreshes the TTL; a miss writes
                written = max(written, n)
        return {
            "input_tokens": total - written,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": written - read,
            "cache_read_input_tokens": read,
        }

    def answer(self, params: dict[str, Any]) -> dict[str, Any]:
        """A Message object for ``params`` (used by /v1/messages and by batches)."""
        naming = _naming_answer(params)
        if naming is not None:
            return self._message(params, naming, max(1, count_tokens(naming)), "end_turn")
        feature = detect_feature(params)
        transcript_key = _transcript_key(params)
        thinking, answer = synthetic_answer(
            feature, transcript_key, subjective_fraction=self.config.subjective_fraction
        )
        prefill = ""
        messages = params.get("messages") or []
        if messages and messages[-1].get("role") == "assistant":
            prefill = "".join(t for t, _ in _block_texts(messages[-1].get("content")))
        h = int(hashlib.sha256(f"{transcript_key}:{feature}:malformed".encode()).hexdigest()[:8], 16) / 2**32
        malformed = feature in self.config.malformed_features or h < self.config.malformed_fraction
        text = render_completion(prefill, thinking, answer, malformed=malformed)
        max_tokens = int(params.get("max_tokens", 1024))
        output_tokens = max(1, count_tokens(text))
        stop_reason = "end_turn"
        if output_tokens > max_tokens:
            text = text[: max_tokens * 4]
            output_tokens = max_tokens
            stop_reason = "max_tokens"
        return self._message(params, text, output_tokens, stop_reason)

    def _message(self, params: dict[str, Any], text: str, output_tokens: int, stop_reason: str) -> dict[str, Any]:
        return {
            "id": "msg_fake_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": params.get("model", ""),
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage(params, output_tokens),
        }

    def _fault(self) -> tuple[int, float | None]:
        """(status, retry_after) for the next /v1/messages request: 200 or an injected failure."""
        cfg = self.config
        with self._lock:
            if cfg.scripted:
                return cfg.scripted.popleft(), cfg.retry_after_s
            if cfg.rpm > 0:
                capacity = cfg.rpm_burst or max(1, cfg.rpm // 60)
                if self._bucket is None or self._bucket_rpm != cfg.rpm or self._bucket.capacity != capacity:
                    self._bucket = _TokenBucket(cfg.rpm / 60.0, capacity)
                    self._bucket_rpm = cfg.rpm
                wait = self._bucket.take()
                if wait > 0:
                    return 429, wait
            if cfg.overload_until > time.monotonic():
                return 529, cfg.retry_after_s
            roll = self._rng.random()
            if roll < cfg.overload_fraction:
                return 529, cfg.retry_after_s
            if roll < cfg.overload_fraction + cfg.error_fraction:
                return 500, None
        return 200, None

    # ---- batches -----------------------------------------------------------------------------
    def batch_create(self, body: dict[str, Any]) -> _Batch:
        requests = body.get("requests") or []
        batch = _Batch("msgbatch_fake_" + uuid.uuid4().hex[:20], requests)
        with self._lock:
            self.batches[batch.id] = batch
        self._record(LoggedRequest(time.monotonic(), "batch_create", 200, batch.id, "", "", ""))
        threading.Thread(target=self._process_batch, args=(batch,), daemon=True).start()
        return batch

    def _process_batch(self, batch: _Batch) -> None:
        time.sleep(self.config.batch_processing_s)
        for req in batch.requests:
            custom_id = str(req.get("custom_id", ""))
            if batch.status != "in_progress":
                batch.results[custom_id] = {"custom_id": custom_id, "result": {"type": "canceled"}}
                continue
            params = req.get("params") or {}
            status, _ = self._fault_for_batch()
            if status != 200:
                result: dict[str, Any] = {
                    "type": "errored",
                    "error": {"type": "error", "error": _error_body(status)["error"]},
                }
            else:
                result = {"type": "succeeded", "message": self.answer(params)}
            batch.results[custom_id] = {"custom_id": custom_id, "result": result}
            self._record(
                LoggedRequest(
                    time.monotonic(),
                    "batch_item",
                    status,
                    _params_key(params),
                    detect_feature(params),
                    str(params.get("model", "")),
                    custom_id,
                    result.get("message", {}).get("usage"),
                )
            )
        batch.ended_at = datetime.now(UTC)
        batch.status = "ended"

    def _fault_for_batch(self) -> tuple[int, None]:
        cfg = self.config
        with self._lock:
            roll = self._rng.random()
        if roll < cfg.error_fraction:
            return 500, None
        return 200, None

    def batch_list(self, *, limit: int, before_id: str | None, after_id: str | None) -> dict[str, Any] | None:
        """One page of batches, newest first, as the API pages it (None when a cursor id is unknown).

        ``after_id`` gives the page that follows that batch in this order (older batches),
        ``before_id`` the page that precedes it (newer ones).
        """
        with self._lock:
            ordered = list(reversed(self.batches.values()))  # dicts keep creation order
        ids = [b.id for b in ordered]
        if after_id is not None:
            if after_id not in ids:
                return None
            start = ids.index(after_id) + 1
            page = ordered[start : start + limit]
            has_more = start + limit < len(ordered)
        elif before_id is not None:
            if before_id not in ids:
                return None
            end = ids.index(before_id)
            page = ordered[max(0, end - limit) : end]
            has_more = end - limit > 0
        else:
            page = ordered[:limit]
            has_more = limit < len(ordered)
        self._record(LoggedRequest(time.monotonic(), "batch_list", 200, "", "", ""))
        return {
            "page": page,
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }

    def batch_json(self, batch: _Batch, base: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.status == "ended":
            for r in batch.results.values():
                counts[r["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch.requests)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": batch.created_at.isoformat(),
            "expires_at": (batch.created_at + timedelta(hours=24)).isoformat(),
            "ended_at": batch.ended_at.isoformat() if batch.ended_at else None,
            "cancel_initiated_at": batch.cancel_initiated_at.isoformat() if batch.cancel_initiated_at else None,
            "archived_at": None,
            "results_url": f"{base}/v1/messages/batches/{batch.id}/results" if batch.status == "ended" else None,
        }

    # ---- HTTP --------------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving in a background thread; return the base URL (port 0 picks a free port)."""
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        return self.base_url

    def serve_forever(self, host: str, port: int) -> None:
        self.serve(host, port)
        assert self._thread is not None
        self._thread.join()

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


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
        for text, _ in _block_texts(message.get("content")):
            if not text:
                return "messages: text content blocks must be non-empty"
    last = params["messages"][-1] if params["messages"] else {}
    if last.get("role") == "assistant" and _refuses_prefill(str(params["model"])):
        return "This model does not support assistant message prefill. The conversation must end with a user message."
    if last.get("role") == "assistant":
        text = "".join(t for t, _ in _block_texts(last.get("content")))
        if text != text.rstrip():
            return "messages: final assistant content cannot end with trailing whitespace"
    return None


def _params_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:24]


_ERRORS = {
    429: ("rate_limit_error", "Number of requests has exceeded your per-minute rate limit (fake server)"),
    500: ("api_error", "Internal server error (fake server)"),
    529: ("overloaded_error", "Overloaded (fake server)"),
    400: ("invalid_request_error", "Invalid request (fake server)"),
    404: ("not_found_error", "Not found (fake server)"),
    401: ("authentication_error", "invalid x-api-key (fake server)"),
}


def _error_body(status: int) -> dict[str, Any]:
    kind, message = _ERRORS.get(status, ("api_error", f"HTTP {status} (fake server)"))
    return {"type": "error", "error": {"type": kind, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeAnthropic

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the request log is kept in FakeAnthropic.log

    def _send(self, status: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:16])
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        return json.loads(raw or b"{}")

    def _base(self) -> str:
        return f"http://{self.headers.get('host') or '127.0.0.1'}"

    def do_POST(self) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        if not self.headers.get("x-api-key") and not self.headers.get("authorization"):
            self._json(401, _error_body(401))
            return
        body = self._body()
        if path == "/v1/messages":
            self._messages(body)
        elif path == "/v1/messages/batches":
            batch = fake.batch_create(body)
            self._json(200, fake.batch_json(batch, self._base()))
        elif path.startswith("/v1/messages/batches/") and path.endswith("/cancel"):
            batch_id = path.split("/")[4]
            found = fake.batches.get(batch_id)
            if found is None:
                self._json(404, _error_body(404))
                return
            if found.status == "in_progress":
                found.status = "canceling"
                found.cancel_initiated_at = datetime.now(UTC)
            self._json(200, fake.batch_json(found, self._base()))
        elif path == "/_fake/reset":
            fake.reset()
            self._json(200, {"ok": True})
        else:
            self._json(404, _error_body(404))

    def do_GET(self) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        if path == "/_fake/log":
            with fake._lock:
                rows = [r.__dict__ for r in fake.log]
            self._json(200, rows)
            return
        if path == "/v1/messages/batches":
            self._batch_list()
            return
        if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"]:
            batch = fake.batches.get(parts[3])
            if batch is None:
                self._json(404, _error_body(404))
                return
            if len(parts) == 4:
                fake._record(LoggedRequest(time.monotonic(), "batch_retrieve", 200, batch.id, "", ""))
                self._json(200, fake.batch_json(batch, self._base()))
                return
            if len(parts) == 5 and parts[4] == "results":
                if batch.status != "ended":
                    self._json(400, _error_body(400))
                    return
                fake._record(LoggedRequest(time.monotonic(), "batch_results", 200, batch.id, "", ""))
                lines = "".join(json.dumps(batch.results[str(r.get("custom_id"))]) + "\n" for r in batch.requests)
                self._send(200, lines.encode(), "application/binary")
                return
        self._json(404, _error_body(404))

    def _batch_list(self) -> None:
        query = parse_qs(urlsplit(self.path).query)

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        raw_limit = one("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            body = {"type": "error", "error": {"type": "invalid_request_error", "message": "limit: 1 to 1000"}}
            self._json(400, body)
            return
        before_id, after_id = one("before_id"), one("after_id")
        if before_id and after_id:
            body = {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "give before_id or after_id, not both"},
            }
            self._json(400, body)
            return
        listed = self.fake.batch_list(limit=int(raw_limit), before_id=before_id, after_id=after_id)
        if listed is None:
            self._json(404, _error_body(404))
            return
        base = self._base()
        self._json(
            200,
            {
                "data": [self.fake.batch_json(b, base) for b in listed["page"]],
                "has_more": listed["has_more"],
                "first_id": listed["first_id"],
                "last_id": listed["last_id"],
            },
        )

    def _messages(self, params: dict[str, Any]) -> None:
        fake = self.fake
        cfg = fake.config
        problem = validate_params(params)
        if problem:
            fake._record(LoggedRequest(time.monotonic(), "message", 400, _params_key(params), "", ""))
            self._json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}})
            return
        key = _params_key(params)
        feature = detect_feature(params)
        model = str(params.get("model", ""))
        status, retry_after = fake._fault()
        if status != 200:
            headers: list[tuple[str, str]] = []
            if retry_after is not None:
                headers = [
                    ("retry-after", str(max(1, math.ceil(retry_after)))),
                    ("retry-after-ms", str(max(1, math.ceil(retry_after * 1000)))),
                ]
            if status == 529:
                time.sleep(cfg.latency_ms / 4000.0)
            fake._record(LoggedRequest(time.monotonic(), "message", status, key, feature, model))
            self._json(status, _error_body(status), headers)
            return
        stall = False
        with fake._lock:
            if cfg.stall_count > 0:
                cfg.stall_count -= 1
                stall = True
        if stall:
            fake._record(LoggedRequest(time.monotonic(), "message", 0, key, feature, model))
            time.sleep(cfg.stall_s)
            self.close_connection = True
            return  # the client has given up; closing without an answer
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000.0)
        message = fake.answer(params)
        fake._record(LoggedRequest(time.monotonic(), "message", 200, key, feature, model, "", message["usage"]))
        self._json(200, message)
