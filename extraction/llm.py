"""The Anthropic client: the only module that imports ``anthropic`` (the request types are in ``llm_types``).

* ``AnthropicProvider.complete(call)`` sends one Messages API request, waiting for the shared rate
  limiter first, and retries transient failures itself (see ``_retry_delay``).
* ``MessageBatches`` submits many calls as one Message Batch, polls it, and streams its results
  matched by ``custom_id``; ``poll`` and ``results`` take only a batch id, so a run that was
  interrupted after submission resumes from the persisted id without resubmitting. ``recent`` lists
  the account's batches (newest first) and ``result_custom_ids`` reads the first custom_ids of an
  ended one, so a run that died between submitting and saving the id can find its batch again.
* ``count_input_tokens`` asks the API how many input tokens a call would send (``ApiTokenCounter`` for estimates).
* ``build_params`` lays a request out for prompt caching: tools -> system -> messages is the order
  in which the API builds the cached prefix, so the long shared instructions (system) carry the
  first ``cache_control`` breakpoint and the transcript (first block of the user message, shared by
  the features of one conversation) the second; the feature's own instructions come after it and
  are never cached. ``cache=False`` builds the identical request without breakpoints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anthropic

from extraction.llm_types import (
    MAX_BATCH_REQUESTS,
    BatchStatus,
    ListedBatch,
    LLMCall,
    LLMConfigurationError,
    LLMResult,
    LLMUnavailableError,
    Usage,
    estimate_tokens,
)
from extraction.ratelimit import Limits, RateLimiter, limiter_create

logger = logging.getLogger(__name__)

# 408/409 and every 5xx (529 "overloaded" included) are worth retrying; 429 too, after retry-after.
RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


def build_params(call: LLMCall) -> dict[str, Any]:
    """Messages API parameters for ``call``, with cache breakpoints on the system prompt and the transcript."""
    parts = call.parts
    cache_control = {"cache_control": {"type": "ephemeral"}} if call.cache else {}
    # No temperature: the SDK's API version (2026-10-21) rejects every sampling parameter, at any value;
    # ``LLMCall.temperature`` stays as provenance (and for providers that accept it).
    params: dict[str, Any] = {"model": call.model, "max_tokens": call.max_tokens}
    if parts.system:
        params["system"] = [{"type": "text", "text": parts.system, **cache_control}]
    content: list[dict[str, Any]] = []
    # The API rejects empty text blocks, so an empty part is left out rather than sent blank.
    if parts.transcript:
        content.append({"type": "text", "text": parts.transcript, **cache_control})
    if parts.instructions:
        content.append({"type": "text", "text": parts.instructions})
    if not content:
        raise ValueError(f"{call.custom_id}: the request has neither a transcript nor instructions")
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    prefill = _sent_prefill(parts.prefill, call.model)
    if prefill:
        messages.append({"role": "assistant", "content": prefill})
    params["messages"] = messages
    return params


_GENERATION = re.compile(r"claude-[a-z]+-(\d+)(?:-(\d{1,2}))?(?:-|$)")


def model_accepts_prefill(model: str) -> bool:
    """False for the models that refuse a prefilled final assistant turn with a 400: the 4.6 generation on.

    Names such as ``claude-sonnet-4-6`` or ``claude-opus-5`` carry the generation; older names
    (``claude-3-5-sonnet-20241022``, ``claude-sonnet-4-5-20250929``, ``claude-opus-4-20250514``) accept it.
    """
    match = _GENERATION.match(model)
    if match is None:
        return True
    return (int(match.group(1)), int(match.group(2) or 0)) < (4, 6)


def _sent_prefill(prefill: str, model: str) -> str:
    # The API refuses a final assistant turn that ends in whitespace, and models that refuse prefill
    # get none: the paper's prompts already ask for "<thinking>…</thinking><answer>…</answer>", so the
    # answer parses the same whether the model wrote the opening tag or we did.
    if not model_accepts_prefill(model):
        return ""
    return prefill.rstrip()


def _estimated_input_tokens(call: LLMCall) -> int:
    p = call.parts
    return estimate_tokens(p.system) + estimate_tokens(p.transcript) + estimate_tokens(p.instructions) + 8


def _usage_of(usage: Any) -> Usage:
    return Usage(
        input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
        cache_creation_input_tokens=int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
        cache_read_input_tokens=int(getattr(usage, "cache_read_input_tokens", 0) or 0),
    )


def _text_of(message: Any) -> str:
    return "".join(getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text")


class MalformedResponseError(Exception):
    """A 200 whose body is not a message (cut JSON, another shape): retried like a 5xx."""


def _message_create(client: anthropic.Anthropic, params: dict[str, Any]) -> Any:
    try:
        message = client.messages.create(**params)
    except ValueError as exc:  # the SDK's json.loads of a cut body
        raise MalformedResponseError(f"the API answered 200 with a body that is not JSON ({exc})") from exc
    if not isinstance(getattr(message, "content", None), list) or getattr(message, "usage", None) is None:
        raise MalformedResponseError(f"the API answered 200 with no message: {message!r}"[:300])
    return message


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's requested wait: ``retry-after-ms`` (more precise) first, then ``retry-after`` in seconds."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue  # an HTTP date: rare from this API; the exponential backoff applies instead
        if 0 <= value <= 600:
            return value
    return None


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""
    return rng.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


@dataclass
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # retry-after is a floor, not a target: the jitter on top keeps retrying workers from arriving together.
        jitter = backoff_delay(attempt, base=self.base_delay, cap=self.max_delay, rng=self.rng)
        if retry_after is None:
            return jitter
        return retry_after + min(jitter, self.base_delay)


def _describe(exc: Exception) -> str:
    if isinstance(exc, MalformedResponseError):
        return f"malformed response: {exc}"[:500]
    if isinstance(exc, anthropic.APIStatusError):
        kind = exc.type or type(exc).__name__
        return f"HTTP {exc.status_code} {kind}: {exc.api_message or str(exc)}"[:500]
    if isinstance(exc, anthropic.APIConnectionError):
        # The SDK says only "Connection error."; where, and the cause (refused, DNS...), is what helps.
        request = getattr(exc, "request", None)
        url = getattr(request, "url", None)
        where = f"{url.scheme}://{url.netloc.decode()}" if url is not None else "the API"
        cause = exc.__cause__
        reason = f" ({cause})" if cause is not None and str(cause) else ""
        return f"{type(exc).__name__}: {exc} {where}{reason}; check ANTHROPIC_BASE_URL and the network"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _is_configuration_error(exc: Exception) -> bool:
    return isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError) or (
        isinstance(exc, anthropic.NotFoundError) and "model" not in (exc.api_message or "").lower()
    )


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, MalformedResponseError):
        return True
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS
    # APITimeoutError is a subclass of APIConnectionError.
    return isinstance(exc, anthropic.APIConnectionError)


def _headers_of(exc: Exception) -> Mapping[str, str] | None:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None) if response is not None else None


def configuration_check(*, api_key: str, base_url: str | None) -> None:
    """Raise LLMConfigurationError, saying what to set, when no request could work with these settings."""
    if not api_key:
        raise LLMConfigurationError(
            "ANTHROPIC_API_KEY is not set: export it (or use the replay provider, which needs no key)"
        )
    if base_url and not base_url.startswith(("http://", "https://")):
        raise LLMConfigurationError(f"ANTHROPIC_BASE_URL must be an http(s) URL, got {base_url!r}")


def make_client(*, api_key: str, base_url: str | None = None, timeout_s: float = 120.0) -> anthropic.Anthropic:
    """An SDK client with its own retries off.

    ``max_retries=0`` is deliberate: we retry in ``AnthropicProvider`` with the shared limiter in the
    loop. Leaving the SDK's default (2) on as well would multiply the attempts (3 x ours) and send
    retries that the shared limiter never sees, which is how N workers overshoot a rate limit.
    """
    configuration_check(api_key=api_key, base_url=base_url)
    return anthropic.Anthropic(api_key=api_key, base_url=base_url or None, max_retries=0, timeout=timeout_s)


@dataclass(frozen=True)
class ClientSettings:
    api_key: str
    base_url: str | None
    timeout_s: float
    max_retries: int
    limits: Limits
    redis_url: str


def client_settings_check() -> None:
    """``configuration_check`` of the Django settings (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL)."""
    cfg = client_settings()
    configuration_check(api_key=cfg.api_key, base_url=cfg.base_url)


def client_settings() -> ClientSettings:
    from django.conf import settings

    return ClientSettings(
        api_key=getattr(settings, "ANTHROPIC_API_KEY", "") or "",
        base_url=getattr(settings, "ANTHROPIC_BASE_URL", "") or None,
        timeout_s=float(getattr(settings, "LLM_TIMEOUT_S", 120.0)),
        max_retries=int(getattr(settings, "LLM_MAX_RETRIES", 6)),
        limits=Limits(
            requests_per_minute=int(getattr(settings, "LLM_REQUESTS_PER_MINUTE", 50)),
            input_tokens_per_minute=int(getattr(settings, "LLM_INPUT_TOKENS_PER_MINUTE", 0)),
            output_tokens_per_minute=int(getattr(settings, "LLM_OUTPUT_TOKENS_PER_MINUTE", 0)),
        ),
        redis_url=getattr(settings, "REDIS_URL", "") or "",
    )


class AnthropicProvider:
    """Live Messages API: one request per call, through the shared rate limiter, with our own retries."""

    def __init__(
        self,
        *,
        client: anthropic.Anthropic,
        limiter: RateLimiter,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    @classmethod
    def from_settings(cls) -> AnthropicProvider:
        cfg = client_settings()
        client = make_client(api_key=cfg.api_key, base_url=cfg.base_url, timeout_s=cfg.timeout_s)
        limiter = limiter_create(limits=cfg.limits, redis_url=cfg.redis_url)
        return cls(client=client, limiter=limiter, retry=RetryPolicy(max_retries=cfg.max_retries))

    def complete(self, call: LLMCall) -> LLMResult:
        params = build_params(call)
        prefill = _sent_prefill(call.parts.prefill, call.model)
        est_input = _estimated_input_tokens(call)
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            self.limiter.acquire(requests=1, input_tokens=est_input, output_tokens=call.max_tokens)
            t0 = time.monotonic()
            try:
                message = _message_create(self.client, params)
            except (anthropic.APIError, MalformedResponseError) as exc:
                # Nothing was generated; a refused request (429/529) did not use input budget either.
                refused = isinstance(exc, anthropic.RateLimitError | anthropic.OverloadedError)
                self.limiter.refund(input_tokens=est_input if refused else 0, output_tokens=call.max_tokens)
                if _is_configuration_error(exc):
                    raise LLMConfigurationError(_describe(exc)) from exc
                retry_after = retry_after_seconds(_headers_of(exc))
                if isinstance(exc, anthropic.RateLimitError) and retry_after:
                    # Everyone shares the account's limit: make every worker wait, not just this one.
                    self.limiter.pause(retry_after)
                if not _is_retryable(exc) or attempt > self.retry.max_retries:
                    logger.warning("LLM call %s failed after %d attempts: %s", call.custom_id, attempt, _describe(exc))
                    return LLMResult(
                        custom_id=call.custom_id,
                        text="",
                        usage=Usage(),
                        latency_ms=int((time.monotonic() - started) * 1000),
                        error=_describe(exc),
                        attempts=attempt,
                    )
                delay = self.retry.delay(attempt, retry_after)
                logger.info("LLM call %s: %s; retry %d in %.2fs", call.custom_id, _describe(exc), attempt, delay)
                self._sleep(delay)
                continue
            latency_ms = int((time.monotonic() - t0) * 1000)
            usage = _usage_of(message.usage)
            self.limiter.refund(
                input_tokens=usage.cache_read_input_tokens,
                output_tokens=max(call.max_tokens - usage.output_tokens, 0),
            )
            return LLMResult(
                custom_id=call.custom_id,
                text=prefill + _text_of(message),
                usage=usage,
                latency_ms=latency_ms,
                attempts=attempt,
            )


def count_input_tokens(*, client: anthropic.Anthropic, call: LLMCall) -> int:
    """The API's count of the input tokens of ``call`` as ``AnthropicProvider.complete`` would send it
    (``messages.count_tokens``: the same model, system and messages, without ``max_tokens``; nothing is generated
    or billed). Raises LLMConfigurationError for a refused key, LLMUnavailableError for any other failure."""
    params = build_params(call)
    del params["max_tokens"]  # not a parameter of the count
    try:
        counted = client.messages.count_tokens(**params)
    except anthropic.APIError as exc:
        if _is_configuration_error(exc):
            raise LLMConfigurationError(_describe(exc)) from exc
        raise LLMUnavailableError(f"token counting: {_describe(exc)}") from exc
    return int(counted.input_tokens)


class ApiTokenCounter:
    """``counter(call) -> input tokens`` by the API's token counting, for estimates before a run.

    One attempt per call with a short timeout: an estimate that cannot reach the API falls back to its local
    count rather than wait through retries.
    """

    def __init__(self, *, client: anthropic.Anthropic) -> None:
        self.client = client

    @classmethod
    def from_settings(cls, *, timeout_s: float = 10.0) -> ApiTokenCounter:
        cfg = client_settings()
        return cls(client=make_client(api_key=cfg.api_key, base_url=cfg.base_url, timeout_s=timeout_s))

    def __call__(self, call: LLMCall) -> int:
        return count_input_tokens(client=self.client, call=call)


def requests_fingerprint(calls: Iterable[LLMCall]) -> str:
    """SHA-256 of the batch requests as ``submit`` sends them (custom_id and parameters), in custom_id order.

    Order-free because a batch's results are matched by custom_id, and because a JSON column
    (PostgreSQL's jsonb) does not keep the order of the items the requests are rebuilt from.
    """
    digest = hashlib.sha256()
    for call in sorted(calls, key=lambda c: c.custom_id):
        line = json.dumps({"custom_id": call.custom_id, "params": build_params(call)}, sort_keys=True)
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


class MessageBatches:
    """The Message Batches API (half price, results within 24 h).

    The caller persists the id returned by ``submit``; after a restart ``poll(batch_id)`` and
    ``results(batch_id, calls)`` pick the batch up again without resubmitting anything.
    """

    def __init__(self, *, client: anthropic.Anthropic, retry: RetryPolicy | None = None) -> None:
        self.client = client
        self.retry = retry or RetryPolicy()

    @classmethod
    def from_settings(cls) -> MessageBatches:
        cfg = client_settings()
        client = make_client(api_key=cfg.api_key, base_url=cfg.base_url, timeout_s=cfg.timeout_s)
        return cls(client=client, retry=RetryPolicy(max_retries=cfg.max_retries))

    def _with_retries(self, what: str, fn: Callable[[], Any], *, safe_to_repeat: bool) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except anthropic.APIError as exc:
                if _is_configuration_error(exc):
                    raise LLMConfigurationError(_describe(exc)) from exc
                # Creating a batch is not idempotent: after a timeout or a 5xx the batch may exist,
                # and a second one would be paid twice. Only answers that mean "not accepted" are retried.
                definite_refusal = isinstance(exc, anthropic.RateLimitError | anthropic.OverloadedError)
                retryable = _is_retryable(exc) if safe_to_repeat else definite_refusal
                if not retryable or attempt > self.retry.max_retries:
                    raise LLMUnavailableError(f"{what}: {_describe(exc)}") from exc
                delay = self.retry.delay(attempt, retry_after_seconds(_headers_of(exc)))
                logger.info("%s: %s; retry %d in %.2fs", what, _describe(exc), attempt, delay)
                time.sleep(delay)

    def submit(self, calls: Sequence[LLMCall]) -> str:
        """Create one batch of ``calls``; return its id.

        LLMUnavailableError when it failed; after a timeout or a 5xx the batch may exist all the same,
        which is why the caller records what it submits before calling this.
        """
        if not calls:
            raise ValueError("a batch needs at least one call")
        if len(calls) > MAX_BATCH_REQUESTS:
            raise ValueError(f"{len(calls)} calls: a batch takes at most {MAX_BATCH_REQUESTS}; submit several batches")
        seen: set[str] = set()
        for call in calls:
            if call.custom_id in seen:
                raise ValueError(f"duplicate custom_id {call.custom_id!r} in one batch")
            seen.add(call.custom_id)
        requests: list[Any] = [{"custom_id": call.custom_id, "params": build_params(call)} for call in calls]
        batch = self._with_retries(
            "batch create", lambda: self.client.messages.batches.create(requests=requests), safe_to_repeat=False
        )
        return str(batch.id)

    def poll(self, batch_id: str) -> BatchStatus:
        batch = self._with_retries(
            f"batch {batch_id} retrieve",
            lambda: self.client.messages.batches.retrieve(batch_id),
            safe_to_repeat=True,
        )
        counts = batch.request_counts
        return BatchStatus(
            batch_id=batch.id,
            processing_status=batch.processing_status,
            processing=counts.processing,
            succeeded=counts.succeeded,
            errored=counts.errored,
            canceled=counts.canceled,
            expired=counts.expired,
        )

    def wait(self, batch_id: str, *, poll_interval_s: float = 30.0, timeout_s: float | None = None) -> BatchStatus:
        """Poll until the batch has ended (or ``timeout_s`` passed; then the last status is returned)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            status = self.poll(batch_id)
            if status.ended or (deadline is not None and time.monotonic() >= deadline):
                return status
            time.sleep(poll_interval_s)

    def results(self, batch_id: str, calls: Iterable[LLMCall] = ()) -> Iterator[LLMResult]:
        """Results of an ended batch, one per request, matched to ``calls`` by ``custom_id``.

        ``calls`` supply the prefill (the API returns only the completion); a result whose
        custom_id is not among ``calls`` is still yielded, without a prefill, when ``calls`` is empty,
        and as an error otherwise. Errored, cancelled and expired requests come back with ``error`` set.
        """
        prefills = {c.custom_id: _sent_prefill(c.parts.prefill, c.model) for c in calls}
        decoder = self._with_retries(
            f"batch {batch_id} results",
            lambda: self.client.messages.batches.results(batch_id),
            safe_to_repeat=True,
        )
        for line in decoder:
            custom_id = line.custom_id
            result = line.result
            if prefills and custom_id not in prefills:
                yield LLMResult(custom_id, "", Usage(), 0, error=f"custom_id {custom_id!r} was not submitted")
                continue
            if result.type == "succeeded":
                message = result.message
                text = prefills.get(custom_id, "") + _text_of(message)
                yield LLMResult(custom_id, text, _usage_of(message.usage), 0)
            elif result.type == "errored":
                err = result.error.error
                yield LLMResult(custom_id, "", Usage(), 0, error=f"batch item errored: {err.type}: {err.message}")
            else:
                yield LLMResult(custom_id, "", Usage(), 0, error=f"batch item {result.type}")

    def recent(self, *, since: datetime, page_size: int = 100) -> Iterator[ListedBatch]:
        """The account's batches created at or after ``since``, newest first (the list endpoint's order).

        Pages are fetched with ``after_id`` (the API's cursor towards older batches) and only as long
        as they are needed: listing stops at the first batch older than ``since``.
        """
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["after_id"] = cursor
            page = self._with_retries(
                "batch list", functools.partial(self.client.messages.batches.list, **params), safe_to_repeat=True
            )
            for batch in page.data:
                if batch.created_at < since:
                    return
                counts = batch.request_counts
                yield ListedBatch(
                    batch_id=batch.id,
                    created_at=batch.created_at,
                    processing_status=batch.processing_status,
                    request_total=counts.processing
                    + counts.succeeded
                    + counts.errored
                    + counts.canceled
                    + counts.expired,
                )
            if not page.has_more or not page.last_id:
                return
            cursor = page.last_id

    def result_custom_ids(self, batch_id: str, *, limit: int) -> list[str]:
        """The custom_ids of the first ``limit`` results of an ended batch (reading no further)."""
        decoder = self._with_retries(
            f"batch {batch_id} results",
            lambda: self.client.messages.batches.results(batch_id),
            safe_to_repeat=True,
        )
        ids: list[str] = []
        for line in decoder:
            ids.append(str(line.custom_id))
            if len(ids) >= limit:
                break
        return ids

    def cancel(self, batch_id: str) -> BatchStatus:
        self._with_retries(
            f"batch {batch_id} cancel", lambda: self.client.messages.batches.cancel(batch_id), safe_to_repeat=True
        )
        return self.poll(batch_id)
