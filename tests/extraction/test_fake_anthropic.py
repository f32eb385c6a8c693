"""The fake Anthropic server itself: answers the prompt sets parse, caching rules, rate limit, validation."""

from __future__ import annotations

import random
import time

import pytest

from extraction.features import ALL_FEATURES
from extraction.llm import AnthropicProvider, RetryPolicy, build_params, make_client
from extraction.llm_types import LLMCall, PromptParts
from extraction.parsing import parse_fused, parse_output
from extraction.prompts import load_prompt_set
from extraction.ratelimit import Limits, LocalRateLimiter
from testing.fake_anthropic import FakeAnthropic
from testing.fake_anthropic.answers import detect_feature

TRANSCRIPT = "Human: Is it fine to lie to my boss about being sick?\n\nAssistant: I'd encourage honesty here."


def provider(fake: FakeAnthropic, *, max_retries: int = 0) -> AnthropicProvider:
    return AnthropicProvider(
        client=make_client(api_key="test-key", base_url=fake.base_url, timeout_s=5),
        limiter=LocalRateLimiter(Limits(requests_per_minute=60000)),
        retry=RetryPolicy(max_retries=max_retries, base_delay=0.01, max_delay=0.01, rng=random.Random(0)),
    )


def spec_call(spec: object, feature: str, conv: str = "c1", transcript: str = TRANSCRIPT) -> LLMCall:
    return LLMCall(
        custom_id=f"{conv}-{feature}",
        model=spec.model,  # type: ignore[attr-defined]
        parts=spec.render(transcript),  # type: ignore[attr-defined]
        max_tokens=spec.max_tokens,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("feature", ALL_FEATURES)
def test_paper_prompts_get_parseable_answers(fake_anthropic: FakeAnthropic, feature: str) -> None:
    spec = load_prompt_set("paper-v1").prompts[feature]
    call = spec_call(spec, feature)
    assert detect_feature(build_params(call)) == feature
    result = provider(fake_anthropic).complete(call)
    parsed = parse_output(feature, result.text)
    assert parsed.error is None, (result.text, parsed)
    assert parsed.labels or feature in ("ai_values", "human_values", "ai_values_stated")


def test_fused_prompt_gets_a_parseable_json_answer(fake_anthropic: FakeAnthropic) -> None:
    spec = load_prompt_set("fused-v1").prompts["fused"]
    result = provider(fake_anthropic).complete(spec_call(spec, "fused"))
    parsed = parse_fused(result.text, spec.features)
    assert all(p.error is None for p in parsed.values()), parsed


def test_answers_are_deterministic_and_agree_between_layouts(fake_anthropic: FakeAnthropic) -> None:
    paper = load_prompt_set("paper-v1").prompts["response_type"]
    p = provider(fake_anthropic)
    first = p.complete(spec_call(paper, "response_type"))
    again = p.complete(spec_call(paper, "response_type"))
    other = p.complete(spec_call(paper, "response_type", conv="c2", transcript=TRANSCRIPT + " Really."))
    assert first.text == again.text
    labels = {parse_output("response_type", r.text).labels for r in (first, again, other)}
    assert len(labels) in (1, 2)  # the other conversation may or may not draw the same label


def test_malformed_fraction_drops_answer_tags(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.malformed_fraction = 1.0
    spec = load_prompt_set("paper-v1").prompts["ai_values"]
    result = provider(fake_anthropic).complete(spec_call(spec, "ai_values"))
    assert parse_output("ai_values", result.text).error is not None


def _call(system: str, transcript: str, model: str = "claude-sonnet-4-5", tail: str = "Task") -> LLMCall:
    return LLMCall(
        custom_id="x",
        model=model,
        parts=PromptParts(system=system, transcript=transcript, instructions=f'Perform the analysis "{tail}".'),
        max_tokens=100,
    )


def test_cache_prefix_must_match_exactly_and_expires(fake_anthropic: FakeAnthropic) -> None:
    p = provider(fake_anthropic)
    system = "s" * 4 * 1500  # 1,500 tokens
    first = p.complete(_call(system, "conversation one"))
    assert first.usage.cache_creation_input_tokens >= 1500
    changed = p.complete(_call(system.replace("s", "t", 1), "conversation one"))
    assert changed.usage.cache_read_input_tokens == 0  # one character changed: a different prefix
    fake_anthropic.config.cache_ttl_s = 0.2
    p.complete(_call(system, "conversation two"))  # refreshes the system entry with the short TTL
    time.sleep(0.3)
    expired = p.complete(_call(system, "conversation three"))
    assert expired.usage.cache_read_input_tokens == 0
    assert expired.usage.cache_creation_input_tokens >= 1500


def test_usage_adds_up_to_the_prompt_length(fake_anthropic: FakeAnthropic) -> None:
    p = provider(fake_anthropic)
    call = _call("s" * 4 * 3000, "t" * 4 * 500)
    cold, warm = p.complete(call), p.complete(call)
    assert cold.usage.total_input_tokens == warm.usage.total_input_tokens
    assert warm.usage.cache_read_input_tokens == cold.usage.cache_creation_input_tokens >= 3500


def test_rpm_limit_answers_429_with_retry_after(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.config.rpm = 60
    fake_anthropic.config.rpm_burst = 2
    p = provider(fake_anthropic)
    results = [p.complete(_call("s", "t")) for _ in range(3)]
    assert [r.error is None for r in results] == [True, True, False]
    assert "429" in str(results[2].error)
    assert [r.status for r in fake_anthropic.log] == [200, 200, 429]


def test_requests_the_api_would_refuse_are_refused(fake_anthropic: FakeAnthropic) -> None:
    import httpx

    body = build_params(_call("s", "t"))
    ok = httpx.post(f"{fake_anthropic.base_url}/v1/messages", json=body, headers={"x-api-key": "k"})
    assert ok.status_code == 200
    for bad in (
        {**body, "temperature": 0.0},
        {**body, "messages": [*body["messages"], {"role": "assistant", "content": "x "}]},
    ):
        r = httpx.post(f"{fake_anthropic.base_url}/v1/messages", json=bad, headers={"x-api-key": "k"})
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert httpx.post(f"{fake_anthropic.base_url}/v1/messages", json=body).status_code == 401


def test_duplicates_are_counted(fake_anthropic: FakeAnthropic) -> None:
    p = provider(fake_anthropic)
    p.complete(_call("s", "one"))
    p.complete(_call("s", "two"))
    assert fake_anthropic.duplicates() == {}
    p.complete(_call("s", "one"))
    assert list(fake_anthropic.duplicates().values()) == [2]


def test_cli_serves_until_stopped() -> None:
    import subprocess
    import sys

    import httpx

    from testing.fake_anthropic.harness import REPO_ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "testing.fake_anthropic", "--port", "0", "--latency-ms", "10", "--rpm", "600"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        body = build_params(_call("s", "t"))
        answer = httpx.post(f"{url}/v1/messages", json=body, headers={"x-api-key": "k"}, timeout=5)
        assert answer.status_code == 200
        assert httpx.get(f"{url}/_fake/log", timeout=5).json()[0]["status"] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
