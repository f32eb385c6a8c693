"""The provider-neutral types of LLM requests: what a call is, what comes back, what can go wrong.

Every provider (the Anthropic client in ``extraction.llm``, the recorded answers in ``extraction.replay``,
the test doubles) speaks these types; none of them needs the ``anthropic`` SDK, so prompt loading,
replay and the services can use them without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

CUSTOM_ID_MAX = 64
# The Message Batches API takes at most 100,000 requests (and 256 MB) per batch.
MAX_BATCH_REQUESTS = 100_000
_CUSTOM_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class LLMConfigurationError(RuntimeError):
    """The client cannot work at all (missing key, bad base URL, rejected credentials): fix the settings."""


class LLMUnavailableError(RuntimeError):
    """A Message Batches operation failed after the retries (API unreachable, still overloaded...).

    The message says which operation and why; nothing was lost, the run can be resumed later.
    """


@dataclass(frozen=True)
class PromptParts:
    """How a request is laid out for prompt caching."""

    system: str  # long instructions shared by many requests -> cached prefix (breakpoint 1)
    transcript: str  # the conversation block, shared by the features of one conversation (breakpoint 2)
    instructions: str  # feature-specific tail after the transcript (not cached)
    prefill: str = ""  # assistant prefill, e.g. "<thinking>"


@dataclass(frozen=True)
class LLMCall:
    custom_id: str  # unique per (conversation, feature, prompt version, model, sample); <= 64 chars, [a-zA-Z0-9_-]
    model: str
    parts: PromptParts
    max_tokens: int
    temperature: float = 0.0
    cache: bool = True  # False builds the same request without cache_control (the no-caching baseline)

    def __post_init__(self) -> None:
        if not self.custom_id or len(self.custom_id) > CUSTOM_ID_MAX or set(self.custom_id) - _CUSTOM_ID_CHARS:
            raise ValueError(f"custom_id {self.custom_id!r} must be 1-{CUSTOM_ID_MAX} characters from [a-zA-Z0-9_-]")
        if self.max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive for {self.custom_id}, got {self.max_tokens}")


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


@dataclass(frozen=True)
class LLMResult:
    custom_id: str
    text: str  # prefill + completion, i.e. the full assistant text
    usage: Usage
    latency_ms: int
    error: str | None = None
    attempts: int = 1


class LLMProvider(Protocol):
    def complete(self, call: LLMCall) -> LLMResult: ...


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters per token) for rate limiting before the real count is known."""
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    processing_status: str  # "in_progress" | "canceling" | "ended"
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    @property
    def total(self) -> int:
        return self.processing + self.succeeded + self.errored + self.canceled + self.expired


@dataclass(frozen=True)
class ListedBatch:
    """A batch as the list endpoint shows it (the API does not list a batch's requests)."""

    batch_id: str
    created_at: datetime
    processing_status: str
    request_total: int

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"
