"""Which LLM provider a run talks to, whether the settings allow it, and free-form text completions."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from extraction.llm import client_settings_check
from extraction.llm_types import (
    LLMCall,
    LLMConfigurationError,
    LLMProvider,
    LLMUnavailableError,
    PromptParts,
)
from extraction.models import ExtractionRun
from extraction.replay import RecordingFileError, ReplayProvider
from extraction.services.runs import RunError


@functools.cache
def _replay_provider(path: str, mtime: float) -> ReplayProvider:
    return ReplayProvider.from_file(path)


def provider_for(*, run: ExtractionRun) -> LLMProvider:
    """The provider a run was created with (live client, or the recordings in EXTRACTION_REPLAY_FILE)."""
    if run.provider == "replay":
        path = Path(settings.EXTRACTION_REPLAY_FILE)
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise RunError(f"replay: cannot read recorded responses {path}: {exc.strerror}") from exc
        try:
            return _replay_provider(str(path), mtime)
        except RecordingFileError as exc:
            raise RunError(str(exc)) from exc
    if run.provider == "anthropic":
        # One client per process and endpoint (keeps its connection pool), rebuilt when the settings change.
        return _anthropic_provider(settings.ANTHROPIC_BASE_URL, hash(settings.ANTHROPIC_API_KEY))
    raise RunError(f"unknown provider {run.provider!r}")


def provider_check(*, provider: str) -> None:
    """Refuse a provider that cannot work with the settings (call before creating or resuming a run).

    Not part of ``run_create``: a run may be executed with a provider given in code (tests, benchmarks).
    """
    if provider == "anthropic":
        try:
            client_settings_check()
        except LLMConfigurationError as exc:
            raise RunError(str(exc)) from exc
    if provider == "replay":
        path = Path(settings.EXTRACTION_REPLAY_FILE)
        if not path.is_file():
            raise RunError(f"replay: the recorded responses {path.name} (EXTRACTION_REPLAY_FILE) cannot be read")


def token_counter() -> Callable[[LLMCall], int] | None:
    """The API's token counting (``extraction.llm.ApiTokenCounter``) when the settings name a live API (an
    ``ANTHROPIC_API_KEY``, and ``ANTHROPIC_BASE_URL`` when set), else None: estimates then count locally."""
    try:
        client_settings_check()
    except LLMConfigurationError:
        return None
    from extraction.llm import ApiTokenCounter

    return ApiTokenCounter.from_settings()


@functools.lru_cache(maxsize=4)
def _anthropic_provider(base_url: str, key_hash: int) -> LLMProvider:
    from extraction.llm import AnthropicProvider

    return AnthropicProvider.from_settings()


def text_complete(*, prompt: str) -> str:
    """One free-form completion through the live client (shared rate limiter, retries, cost-free of runs).

    Asks ``LLM_TEXT_MODEL``. Raises ``RunError`` when the API is not configured and
    ``LLMUnavailableError`` when the request failed after the retries.
    """
    provider_check(provider="anthropic")
    provider = _anthropic_provider(settings.ANTHROPIC_BASE_URL, hash(settings.ANTHROPIC_API_KEY))
    call = LLMCall(
        custom_id="text-" + hashlib.sha256(prompt.encode()).hexdigest()[:40],
        model=settings.LLM_TEXT_MODEL,
        parts=PromptParts(system="", transcript="", instructions=prompt),
        max_tokens=settings.LLM_TEXT_MAX_TOKENS,
    )
    result = provider.complete(call)
    if result.error:
        raise LLMUnavailableError(f"text completion with {call.model} failed: {result.error}")
    return result.text


def namer_complete(prompt: str, /) -> str:
    """``text_complete`` in the shape the taxonomy namer calls: ``complete(prompt) -> str``.

    ``TAXONOMY_NAMER=extraction.services.namer_complete`` names clusters with ``LLM_TEXT_MODEL`` and
    the prompt in ``prompts/taxonomy/``.
    """
    return text_complete(prompt=prompt)
