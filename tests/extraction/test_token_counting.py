"""The API's token counting (``messages.count_tokens``) through the real SDK against the fake server, and the cost
estimate before a run that uses it when a live API is configured, else counts locally, saying which."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.roles import Role
from corpus.models import Conversation
from corpus.transcript import render_transcript
from extraction.estimates import API, CHARS_PER_TOKEN, COUNT_SAMPLE, LOCAL, prompt_set_cost_estimate
from extraction.llm import AnthropicProvider, ApiTokenCounter, count_input_tokens, make_client
from extraction.llm_types import LLMCall, LLMConfigurationError, LLMUnavailableError, PromptParts
from extraction.prompts import load_prompt_set
from extraction.ratelimit import Limits, LocalRateLimiter
from extraction.services import token_counter
from testing.fake_anthropic import FakeAnthropic
from tests.pages import client_as

REPO = Path(__file__).resolve().parents[2]


def _call(model: str = "claude-sonnet-4-6") -> LLMCall:
    parts = PromptParts(system="s" * 400, transcript="t" * 795, instructions="i" * 395, prefill="<thinking>")
    return LLMCall(custom_id="count-1", model=model, parts=parts, max_tokens=300)


def _counter(fake: FakeAnthropic) -> ApiTokenCounter:
    return ApiTokenCounter(client=make_client(api_key="test-key", base_url=fake.base_url, timeout_s=5))


def test_the_sdk_counts_what_a_message_would_bill(fake_anthropic: FakeAnthropic) -> None:
    # The fake's stated count: characters // 4 per segment, a message block prefixed by its role ("user:"):
    # system 400 // 4 + ("user:" + 795) // 4 + ("user:" + 395) // 4 = 100 + 200 + 100. A 4.6 model gets no prefill.
    client = make_client(api_key="test-key", base_url=fake_anthropic.base_url)
    assert count_input_tokens(client=client, call=_call()) == 400
    counted = fake_anthropic.requests("count_tokens")
    assert [(r.status, r.model, r.usage) for r in counted] == [(200, "claude-sonnet-4-6", {"input_tokens": 400})]
    provider = AnthropicProvider(client=client, limiter=LocalRateLimiter(Limits(requests_per_minute=600)))
    assert provider.complete(_call()).usage.total_input_tokens == 400
    # With a model that takes the prefill, the count includes it, as the request would.
    assert count_input_tokens(client=client, call=_call("claude-sonnet-4-5")) > 400


def test_the_fake_refuses_a_count_with_max_tokens_as_the_api_does(fake_anthropic: FakeAnthropic) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    url = f"{fake_anthropic.base_url}/v1/messages/count_tokens"
    refused = httpx.post(url, json=body, headers={"x-api-key": "k"})
    assert refused.status_code == 400
    assert "max_tokens" in refused.json()["error"]["message"]
    del body["max_tokens"]
    assert httpx.post(url, json=body, headers={"x-api-key": "k"}).json() == {"input_tokens": len("user:hi") // 4}


@pytest.mark.parametrize(("status", "error"), [(500, LLMUnavailableError), (401, LLMConfigurationError)])
def test_a_failed_count_says_so(fake_anthropic: FakeAnthropic, status: int, error: type[Exception]) -> None:
    fake_anthropic.config.count_tokens_status = status
    with pytest.raises(error, match=f"HTTP {status}"):
        _counter(fake_anthropic)(_call())


def _sample(n: int) -> list[Conversation]:
    call_command("import_conversations", str(REPO / "sample" / "conversations.jsonl"), dataset="sample")
    return list(Conversation.objects.order_by("pk")[:n])


def _local(spec: Any, conversations: list[Conversation]) -> int:
    chars = 0
    for c in conversations:
        p = spec.render(render_transcript(c.messages))
        chars += len(p.system + p.transcript + p.instructions + p.prefill)
    return chars // CHARS_PER_TOKEN


@pytest.mark.django_db
def test_the_estimate_takes_the_apis_count_of_every_request_of_a_few_conversations(
    fake_anthropic: FakeAnthropic,
) -> None:
    pset = load_prompt_set("paper-v1")
    conversations = _sample(3)
    estimate = prompt_set_cost_estimate(
        prompt_set=pset, conversations=conversations, count_tokens=_counter(fake_anthropic)
    )
    assert estimate.input_count == API
    assert "the API's token count (messages.count_tokens) of 3 conversations per prompt;" in estimate.method
    counted = fake_anthropic.requests("count_tokens")
    assert len(counted) == 3 * len(pset.prompts)
    assert sum(p.input_tokens for p in estimate.prompts) == sum(r.usage["input_tokens"] for r in counted if r.usage)
    counter = _counter(fake_anthropic)
    for p in estimate.prompts:
        spec = pset.prompts[p.key]
        exact = sum(
            counter(LLMCall("x", p.model, spec.render(render_transcript(c.messages)), spec.max_tokens))
            for c in conversations
        )
        assert (p.counted, p.input_tokens) == (3, exact)


@pytest.mark.django_db
def test_on_many_conversations_a_spread_sample_is_counted_and_scaled_by_characters(
    fake_anthropic: FakeAnthropic,
) -> None:
    pset = load_prompt_set("paper-v1")
    conversations = _sample(25)
    estimate = prompt_set_cost_estimate(
        prompt_set=pset, conversations=conversations, count_tokens=_counter(fake_anthropic)
    )
    sampled = len(conversations[:: -(-25 // COUNT_SAMPLE)])
    assert sampled == 9
    assert len(fake_anthropic.requests("count_tokens")) == sampled * len(pset.prompts)
    assert "of 9 conversations per prompt, the rest scaled by their characters" in estimate.method
    counter = _counter(fake_anthropic)
    for p in estimate.prompts:
        spec = pset.prompts[p.key]
        exact = sum(
            counter(LLMCall("x", p.model, spec.render(render_transcript(c.messages)), spec.max_tokens))
            for c in conversations
        )
        assert p.counted == 9
        assert p.input_tokens == pytest.approx(exact, rel=0.02)


@pytest.mark.django_db
def test_when_the_count_fails_the_estimate_counts_locally_and_says_why(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.count_tokens_status = 529
    pset = load_prompt_set("paper-v1")
    conversations = _sample(3)
    estimate = prompt_set_cost_estimate(
        prompt_set=pset, conversations=conversations, count_tokens=_counter(fake_anthropic)
    )
    assert estimate.input_count == LOCAL
    assert estimate.why_local.startswith("the API's token counting failed: token counting: HTTP 529")
    assert all(p.input_tokens == _local(pset.prompts[p.key], conversations) for p in estimate.prompts)
    assert all(p.counted == 0 for p in estimate.prompts)


@pytest.mark.django_db
def test_the_run_page_uses_the_apis_count_only_with_a_key(fake_anthropic: FakeAnthropic, settings: Any) -> None:
    _sample(0)
    url = reverse("prompt-run-new", args=["paper-v1"]) + "?dataset=sample&limit=4"
    client = client_as(Role.PROMPT_ENGINEER)
    settings.ANTHROPIC_API_KEY = ""
    assert token_counter() is None
    page = client.get(url).content.decode()
    assert "Input tokens estimated locally (characters / 4): no ANTHROPIC_API_KEY configured." in page
    assert fake_anthropic.requests("count_tokens", status=None) == []

    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url
    page = client.get(url).content.decode()
    assert "Input tokens counted by the API (messages.count_tokens)." in page
    assert "of 4 conversations per prompt;" in page
    assert len(fake_anthropic.requests("count_tokens")) == 4 * len(load_prompt_set("paper-v1").prompts)
