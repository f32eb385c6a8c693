"""The live client against the fake Anthropic server: request layout, retries, failures, cache usage."""

from __future__ import annotations

import random
import time
from collections import deque

import httpx
import pytest

from extraction.llm import (
    AnthropicProvider,
    RetryPolicy,
    build_params,
    make_client,
    model_accepts_prefill,
    retry_after_seconds,
)
from extraction.llm_types import LLMCall, LLMConfigurationError, PromptParts
from extraction.ratelimit import Limits, LocalRateLimiter
from testing.fake_anthropic import FakeAnthropic

SYSTEM = "You analyze conversations between a user and an AI assistant. " * 120  # ~1,900 tokens
TRANSCRIPT = "<conversation>\nHuman: Should I tell my friend the truth?\n\nAssistant: Honesty matters.\n</conversation>"


def make_call(
    feature: str = "AI values", *, conv: str = "c1", model: str = "claude-sonnet-4-5", **kw: object
) -> LLMCall:
    parts = PromptParts(
        system=str(kw.pop("system", SYSTEM)),
        transcript=str(kw.pop("transcript", TRANSCRIPT)),
        instructions=f'Perform the analysis "{feature}" described above on the conversation in <conversation> tags.',
        prefill="<thinking>",
    )
    custom_id = f"{conv}-{feature.replace(' ', '_').replace('(', '').replace(')', '')}"
    return LLMCall(custom_id=custom_id, model=model, parts=parts, max_tokens=300, **kw)  # type: ignore[arg-type]


def provider(fake: FakeAnthropic, *, max_retries: int = 4, timeout_s: float = 5.0) -> AnthropicProvider:
    client = make_client(api_key="test-key", base_url=fake.base_url, timeout_s=timeout_s)
    return AnthropicProvider(
        client=client,
        limiter=LocalRateLimiter(Limits(requests_per_minute=6000)),
        retry=RetryPolicy(max_retries=max_retries, base_delay=0.01, max_delay=0.05, rng=random.Random(1)),
    )


def test_request_layout_puts_cache_breakpoints_on_system_and_transcript() -> None:
    params = build_params(make_call())
    assert params["system"] == [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    user, assistant = params["messages"]
    assert user["role"] == "user"
    assert user["content"][0] == {"type": "text", "text": TRANSCRIPT, "cache_control": {"type": "ephemeral"}}
    assert "cache_control" not in user["content"][1]
    assert user["content"][1]["text"].startswith("Perform the analysis")
    assert assistant == {"role": "assistant", "content": "<thinking>"}
    # The SDK's API version rejects sampling parameters at any value.
    assert "temperature" not in params


def test_request_without_caching_is_the_same_request_minus_breakpoints() -> None:
    cached, plain = build_params(make_call()), build_params(make_call(cache=False))
    assert "cache_control" not in str(plain)
    assert str(cached).replace(", 'cache_control': {'type': 'ephemeral'}", "") == str(plain)


def test_custom_id_is_checked() -> None:
    with pytest.raises(ValueError, match="custom_id"):
        LLMCall(custom_id="has space", model="m", parts=PromptParts("s", "t", "i"), max_tokens=10)
    with pytest.raises(ValueError, match="custom_id"):
        LLMCall(custom_id="x" * 65, model="m", parts=PromptParts("s", "t", "i"), max_tokens=10)


def test_complete_returns_prefill_plus_completion_and_usage(fake_anthropic: FakeAnthropic) -> None:
    result = provider(fake_anthropic).complete(make_call())
    assert result.error is None
    assert result.attempts == 1
    assert result.text.startswith("<thinking>\n")
    assert "<answer>" in result.text
    assert result.usage.output_tokens > 0


def test_429_honours_retry_after_and_then_succeeds(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.retry_after_s = 0.4
    fake_anthropic.config.scripted = deque([429, 429])
    started = time.monotonic()
    result = provider(fake_anthropic).complete(make_call())
    elapsed = time.monotonic() - started
    assert result.error is None
    assert result.attempts == 3
    # Two waits of at least retry-after (0.4 s each): the backoff alone would be under 0.1 s.
    assert elapsed >= 0.8
    statuses = [r.status for r in fake_anthropic.log]
    assert statuses == [429, 429, 200]


def test_retry_after_header_parsing() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "1"}) == pytest.approx(0.25)
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds({}) is None


def test_429_pauses_the_shared_limiter(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.retry_after_s = 0.5
    fake_anthropic.config.scripted = deque([429])
    p = provider(fake_anthropic, max_retries=0)
    assert p.complete(make_call()).error is not None
    # Another worker using the same limiter now has to wait for the pause too.
    started = time.monotonic()
    p.limiter.acquire(requests=1)
    assert time.monotonic() - started >= 0.4


def test_429_final_failure_is_returned_not_raised(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.retry_after_s = 0.01
    fake_anthropic.config.scripted = deque([429] * 10)
    result = provider(fake_anthropic, max_retries=2).complete(make_call())
    assert result.text == ""
    assert result.error is not None
    assert "429" in result.error
    assert "rate_limit_error" in result.error
    assert result.attempts == 3
    assert len(fake_anthropic.log) == 3


def test_529_overloaded_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.scripted = deque([529, 529])
    result = provider(fake_anthropic).complete(make_call())
    assert result.error is None
    assert result.attempts == 3
    assert [r.status for r in fake_anthropic.log] == [529, 529, 200]


def test_529_storm_outlasted(fake_anthropic: FakeAnthropic) -> None:
    # A storm of eight 529s, counted rather than timed, so that a slow machine cannot let it pass before the first call.
    fake_anthropic.config.scripted = deque([529] * 8)
    p = provider(fake_anthropic, max_retries=12)
    p.retry.base_delay, p.retry.max_delay = 0.05, 0.1
    result = p.complete(make_call())
    assert result.error is None
    assert result.attempts == 9
    assert len(fake_anthropic.log) == 9
    assert all(r.status == 529 for r in fake_anthropic.log[:-1])


def test_sdk_does_not_retry_on_its_own(fake_anthropic: FakeAnthropic) -> None:
    """With our retries off, one 529 is one request: the SDK's max_retries=0 keeps attempts from multiplying."""
    fake_anthropic.config.scripted = deque([529])
    result = provider(fake_anthropic, max_retries=0).complete(make_call())
    assert result.error is not None
    assert "529" in result.error
    assert len(fake_anthropic.log) == 1


def test_500_is_retried_and_400_is_not(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.scripted = deque([500])
    assert provider(fake_anthropic).complete(make_call()).attempts == 2
    fake_anthropic.config.scripted = deque([400])
    result = provider(fake_anthropic).complete(make_call())
    assert result.attempts == 1
    assert result.error is not None
    assert "400" in result.error


def test_timeout_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.stall_s = 2.0
    fake_anthropic.config.stall_count = 1
    result = provider(fake_anthropic, timeout_s=0.5).complete(make_call())
    assert result.error is None
    assert result.attempts == 2


def test_a_garbled_body_is_retried_and_a_lasting_one_recorded(fake_anthropic: FakeAnthropic) -> None:
    # A 200 whose body is cut JSON used to escape the client as a JSONDecodeError and kill the task.
    fake_anthropic.config.garbled_count = 2
    result = provider(fake_anthropic).complete(make_call())
    assert (result.error, result.attempts) == (None, 3)
    assert "<answer>" in result.text
    fake_anthropic.config.garbled_count = 10
    result = provider(fake_anthropic, max_retries=2).complete(make_call())
    assert result.attempts == 3
    assert result.error is not None
    assert result.error.startswith("malformed response: the API answered 200 with a body that is not JSON")


def test_connection_refused_is_a_recorded_failure() -> None:
    client = make_client(api_key="k", base_url="http://127.0.0.1:9", timeout_s=1)
    p = AnthropicProvider(
        client=client,
        limiter=LocalRateLimiter(Limits(6000)),
        retry=RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.01),
    )
    result = p.complete(make_call())
    assert result.attempts == 2
    assert result.error is not None
    assert "APIConnectionError" in result.error


def test_configuration_errors_raise() -> None:
    with pytest.raises(LLMConfigurationError, match="ANTHROPIC_API_KEY"):
        make_client(api_key="", base_url=None)
    with pytest.raises(LLMConfigurationError, match="ANTHROPIC_BASE_URL"):
        make_client(api_key="k", base_url="localhost:1234")


def test_rejected_key_raises_configuration_error(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.scripted = deque([401])
    with pytest.raises(LLMConfigurationError, match="401"):
        provider(fake_anthropic).complete(make_call())


def test_malformed_answer_passes_through_as_text(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.malformed_features = frozenset({"ai_values"})
    result = provider(fake_anthropic).complete(make_call())
    assert result.error is None
    assert result.text.startswith("<thinking>")
    assert "<answer>" not in result.text


def test_second_feature_of_a_conversation_reads_the_cache(fake_anthropic: FakeAnthropic) -> None:
    p = provider(fake_anthropic)
    first = p.complete(make_call("AI values"))
    second = p.complete(make_call("Human values"))
    other_conversation = p.complete(make_call("AI values", conv="c2", transcript=TRANSCRIPT.replace("friend", "boss")))
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation_input_tokens > 1024
    # The second feature reads system + transcript; only its own instructions are billed in full.
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.input_tokens < 50
    # Another conversation reads the shared system prompt and writes its own transcript.
    assert 0 < other_conversation.usage.cache_read_input_tokens < first.usage.cache_creation_input_tokens
    assert other_conversation.usage.cache_creation_input_tokens > 0


def test_no_cache_usage_without_breakpoints(fake_anthropic: FakeAnthropic) -> None:
    p = provider(fake_anthropic)
    p.complete(make_call("AI values", cache=False))
    second = p.complete(make_call("Human values", cache=False))
    assert second.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens > 1024


def test_haiku_needs_a_longer_prefix_to_cache(fake_anthropic: FakeAnthropic) -> None:
    p = provider(fake_anthropic)
    # ~1,900 tokens: enough for a Sonnet-class model (1,024), not for a Haiku-class one (2,048).
    p.complete(make_call("Task", model="claude-haiku-4-5", transcript="<conversation>hi</conversation>"))
    again = p.complete(
        make_call("Subjectivity filter", model="claude-haiku-4-5", transcript="<conversation>hi</conversation>")
    )
    assert again.usage.cache_read_input_tokens == 0
    assert again.usage.cache_creation_input_tokens == 0


def test_from_settings_reads_the_settings(fake_anthropic: FakeAnthropic, settings: object) -> None:
    settings.ANTHROPIC_API_KEY = "from-settings"  # type: ignore[attr-defined]
    settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url  # type: ignore[attr-defined]
    settings.REDIS_URL = ""  # type: ignore[attr-defined]
    result = AnthropicProvider.from_settings().complete(make_call())
    assert result.error is None
    settings.ANTHROPIC_API_KEY = ""  # type: ignore[attr-defined]
    with pytest.raises(LLMConfigurationError):
        AnthropicProvider.from_settings()


@pytest.mark.parametrize(
    ("model", "accepts"),
    [
        ("claude-sonnet-4-5", True),
        ("claude-sonnet-4-5-20250929", True),
        ("claude-haiku-4-5-20251001", True),
        ("claude-opus-4-20250514", True),
        ("claude-3-5-sonnet-20241022", True),
        ("claude-sonnet-4-6", False),
        ("claude-opus-4-7", False),
        ("claude-opus-5", False),
        ("claude-sonnet-5-5", False),
    ],
)
def test_which_models_accept_a_prefill(model: str, accepts: bool) -> None:
    assert model_accepts_prefill(model) is accepts
    params = build_params(make_call(model=model))
    assert (params["messages"][-1]["role"] == "assistant") is accepts


def test_a_model_that_refuses_prefill_is_sent_none_and_its_answer_parses(fake_anthropic: FakeAnthropic) -> None:
    """The fake API answers 400 to a prefill on a 4.6 model, as the real one does; the client sends none."""
    from extraction.parsing import parse_output

    result = provider(fake_anthropic).complete(make_call(model="claude-sonnet-4-6"))
    assert result.error is None, result.error
    assert result.text.startswith("<thinking>")
    assert parse_output("ai_values", result.text).error is None
    params = build_params(make_call(model="claude-sonnet-4-6"))
    params["messages"] = [*params["messages"], {"role": "assistant", "content": "<thinking>"}]
    response = httpx.post(
        f"{fake_anthropic.base_url}/v1/messages",
        json=params,
        headers={"x-api-key": "test-key", "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 400
    assert "does not support assistant message prefill" in response.json()["error"]["message"]
