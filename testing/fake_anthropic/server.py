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
  than the client's timeout, malformed answers (no ``<answer>`` tags), garbled bodies (200 with cut
  JSON), and requests refused with 400 when their messages hold a marker.
* ``usage`` follows the prompt-caching rules: the prefix up to each ``cache_control`` breakpoint
  (tools -> system -> messages) is looked up; the longest cached one is a read, longer breakpoint
  prefixes are written; prefixes under the model's minimum cacheable length (1024 tokens, 2048 for
  Haiku-class models) are never cached; entries live 5 minutes, refreshed on each hit.
* Batches: create, list (newest first; ``limit``, ``before_id``, ``after_id`` as the API pages),
  retrieve, results (JSONL), cancel; processed in the background.
* ``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}`` with N the total input tokens ``usage`` would
  bill for the same request (``answers.input_tokens``: characters // 4 per prompt segment); it refuses
  ``max_tokens``, as the API does.
* Every request is recorded (``FakeAnthropic.log``), so tests count duplicates and batch creations.

Token counts are approximate (``len(text) // 4``), like the client's own estimate.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

from testing.fake_anthropic.answers import (
    CACHE_TTL_S,
    block_texts,
    count_tokens,
    detect_feature,
    error_body,
    input_tokens,
    min_cacheable_tokens,
    naming_answer,
    params_key,
    prompt_segments,
    render_completion,
    synthetic_answer,
    transcript_key,
)


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
    garbled_count: int = 0  # the next requests answered 200 get a cut body that is not JSON
    refuse_marker: str = ""  # a request whose messages contain this text is refused with 400 (never retried)
    retry_after_s: float | None = None  # fixed retry-after for scripted/storm answers (else computed)
    batch_processing_s: float = 0.2  # time a batch stays in_progress
    cache_ttl_s: float = CACHE_TTL_S
    count_tokens_status: int = 200  # another status: /v1/messages/count_tokens answers that error instead
    seed: int = 0


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # time.monotonic()
    kind: str  # "message" | "count_tokens" | "batch_item" | "batch_create" | ...
    status: int
    key: str  # hash of the request parameters (same request -> same key)
    feature: str
    model: str
    custom_id: str = ""
    usage: dict[str, int] | None = None
    note: str = ""  # "stalled", "garbled": why a request got no usable answer (status 0)


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
        total = input_tokens(params)
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
        naming = naming_answer(params)
        if naming is not None:
            return self._message(params, naming, max(1, count_tokens(naming)), "end_turn")
        feature = detect_feature(params)
        key = transcript_key(params)
        thinking, answer = synthetic_answer(feature, key, subjective_fraction=self.config.subjective_fraction)
        prefill = ""
        messages = params.get("messages") or []
        if messages and messages[-1].get("role") == "assistant":
            prefill = "".join(t for t, _ in block_texts(messages[-1].get("content")))
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
                    "error": {"type": "error", "error": error_body(status)["error"]},
                }
            else:
                result = {"type": "succeeded", "message": self.answer(params)}
            batch.results[custom_id] = {"custom_id": custom_id, "result": result}
            self._record(
                LoggedRequest(
                    time.monotonic(),
                    "batch_item",
                    status,
                    params_key(params),
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

        from testing.fake_anthropic.handler import Handler  # the handler module reads this one

        class Bound(Handler):
            pass

        Bound.fake = fake
        self._server = ThreadingHTTPServer((host, port), Bound)
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
