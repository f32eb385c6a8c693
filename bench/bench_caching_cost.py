"""Billed input-token cost per conversation with prompt caching vs without, live and in batches.

The six paper-v1 features of N hh-rlhf conversations (harmless-base test split), every feature on
every conversation, sent through the real client to the local fake API, whose ``usage`` follows
the prompt-caching rules (prefix up to each breakpoint, minimum cacheable length per model, 5-minute
TTL). Each conversation's requests go out in the order a worker sends them (subjectivity first).

Priced as Anthropic prices them (extraction/costs.py, the LLM_PRICES table): uncached input at the
base price, cache writes at 1.25x, cache reads at 0.1x, and the Message Batches API at half price.
The reference is the same requests without ``cache_control`` (live). Token counts are
deterministic (the fake counts ~4 characters per token), so one run per configuration suffices.

paper-v1 sends its prompts in the codebook layout (all six published prompts in one shared system
prefix), which is longer per request than the paper's own inline layout (each prompt alone, the
conversation where the published text puts it). So that the saving is not read against a baseline
the layout itself inflated, the same run also prices the inline layout (the set with
``layout: inline`` and no system preamble, as the paper sent it), without and with caching, and
reports every configuration against inline-without-caching as well.

    python -m bench.bench_caching_cost --data ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from bench.report import record as record_benchmark
from extraction.llm import AnthropicProvider, MessageBatches, RetryPolicy, make_client
from extraction.llm_types import LLMCall, LLMResult
from extraction.ratelimit import Limits, LocalRateLimiter
from testing.fake_anthropic import FakeAnthropic, FakeConfig
from testing.fake_anthropic.harness import REPO_ROOT

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
TITLE = "Prompt caching and batch cost (bench.bench_caching_cost)"


@dataclass
class Totals:
    input_cost: Decimal = Decimal(0)
    output_cost: Decimal = Decimal(0)
    input_tokens: int = 0
    cache_write: int = 0
    cache_read: int = 0
    failures: int = 0


def conversations(path: Path, n: int) -> Iterator[tuple[str, str]]:
    from corpus.importers import ParsedConversation, iter_records
    from corpus.transcript import render_transcript

    count = 0
    for record in iter_records(path):
        if isinstance(record, ParsedConversation):
            yield record.external_id, render_transcript(record.messages)
            count += 1
            if count >= n:
                return


def inline_variant(root: Path) -> Path:
    """A copy of paper-v1 under ``root`` in the paper's own layout: ``layout: inline``, no system preamble."""
    import yaml

    target = root / "paper-v1"
    shutil.copytree(REPO_ROOT / "prompts" / "paper-v1", target)
    set_file = target / "set.yaml"
    meta = yaml.safe_load(set_file.read_text(encoding="utf-8"))
    meta["layout"] = "inline"
    meta.pop("preamble", None)  # it introduces the codebook; the paper's requests had no system prompt
    set_file.write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return root


def build_calls(path: Path, n: int, *, cache: bool, prompts_root: Path | None = None) -> list[LLMCall]:
    from extraction.prompts import load_prompt_set

    pset = load_prompt_set("paper-v1", root=prompts_root or REPO_ROOT / "prompts")
    calls = []
    for i, (_key, transcript) in enumerate(conversations(path, n)):
        for feature in pset.features:
            spec = pset.prompts[feature]
            calls.append(
                LLMCall(
                    custom_id=f"c{i}-{feature}",
                    model=spec.model,
                    parts=spec.render(transcript),
                    max_tokens=spec.max_tokens,
                    cache=cache,
                )
            )
    return calls


def price(calls: list[LLMCall], results: dict[str, LLMResult], *, batch: bool) -> Totals:
    from django.conf import settings

    from extraction.costs import (
        BATCH_MULTIPLIER,
        CACHE_READ_MULTIPLIER,
        CACHE_WRITE_MULTIPLIER,
        MILLION,
        price_for,
        price_table,
    )

    table = price_table(settings.LLM_PRICES)
    totals = Totals()
    factor = BATCH_MULTIPLIER if batch else Decimal(1)
    for call in calls:
        result = results[call.custom_id]
        if result.error:
            totals.failures += 1
            continue
        u = result.usage
        p = price_for(call.model, table)
        totals.input_cost += (
            factor
            * p.input_per_mtok
            * (
                u.input_tokens
                + u.cache_creation_input_tokens * CACHE_WRITE_MULTIPLIER
                + u.cache_read_input_tokens * CACHE_READ_MULTIPLIER
            )
            / MILLION
        )
        totals.output_cost += factor * p.output_per_mtok * u.output_tokens / MILLION
        totals.input_tokens += u.input_tokens
        totals.cache_write += u.cache_creation_input_tokens
        totals.cache_read += u.cache_read_input_tokens
    return totals


def run_live(calls: list[LLMCall]) -> dict[str, LLMResult]:
    fake = FakeAnthropic(FakeConfig())  # a fresh server: an empty cache
    url = fake.serve("127.0.0.1", 0)
    try:
        provider = AnthropicProvider(
            client=make_client(api_key="fake-key", base_url=url, timeout_s=30),
            limiter=LocalRateLimiter(Limits(requests_per_minute=10**6)),
            retry=RetryPolicy(max_retries=2, rng=random.Random(0)),
        )
        return {c.custom_id: provider.complete(c) for c in calls}
    finally:
        fake.shutdown()


def run_batch(calls: list[LLMCall]) -> dict[str, LLMResult]:
    fake = FakeAnthropic(FakeConfig(batch_processing_s=0.0))
    url = fake.serve("127.0.0.1", 0)
    try:
        batches = MessageBatches(client=make_client(api_key="fake-key", base_url=url, timeout_s=120))
        batch_id = batches.submit(calls)
        batches.wait(batch_id, poll_interval_s=0.5, timeout_s=600)
        return {r.custom_id: r for r in batches.results(batch_id, calls)}
    finally:
        fake.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else [])
    if not args.data.is_file():
        print(f"bench_caching_cost: {args.data} not found (pass --data PATH to harmless-base-test.jsonl.gz)")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    import logging

    logging.getLogger("httpx2").setLevel(logging.WARNING)

    cached_calls = build_calls(args.data, args.conversations, cache=True)
    plain_calls = [replace(c, cache=False) for c in cached_calls]
    with tempfile.TemporaryDirectory() as tmp:
        inline_cached = build_calls(args.data, args.conversations, cache=True, prompts_root=inline_variant(Path(tmp)))
    inline_plain = [replace(c, cache=False) for c in inline_cached]
    n = args.conversations
    configs = {
        "live, no caching (reference)": price(plain_calls, run_live(plain_calls), batch=False),
        "live, caching": price(cached_calls, run_live(cached_calls), batch=False),
        "batch, no caching": price(plain_calls, run_batch(plain_calls), batch=True),
        "batch, caching": price(cached_calls, run_batch(cached_calls), batch=True),
        "inline layout, live, no caching": price(inline_plain, run_live(inline_plain), batch=False),
        "inline layout, live, caching": price(inline_cached, run_live(inline_cached), batch=False),
    }
    reference = configs["live, no caching (reference)"].input_cost
    inline_reference = configs["inline layout, live, no caching"].input_cost
    header = (
        "| configuration | input $/1k conv | vs reference | vs inline, no caching | total $/1k conv "
        "| uncached / write / read tokens per conv |"
    )
    lines = [header, "| --- | ---: | ---: | ---: | ---: | --- |"]
    for name, t in configs.items():
        per_k = Decimal(1000) / n
        lines.append(
            f"| {name} | {t.input_cost * per_k:.4f} | {float(t.input_cost / reference):.1%} | "
            f"{float(t.input_cost / inline_reference):.1%} | {(t.input_cost + t.output_cost) * per_k:.4f} | "
            f"{t.input_tokens // n} / {t.cache_write // n} / {t.cache_read // n} |"
        )
    failures = sum(t.failures for t in configs.values())
    ratio = configs["live, caching"].input_cost / reference
    ratio_batch = configs["batch, caching"].input_cost / reference
    ratio_inline = configs["live, caching"].input_cost / inline_reference
    ratio_inline_batch = configs["batch, caching"].input_cost / inline_reference
    summary = (
        f"billed input cost with caching = {float(ratio):.1%} of without (target <= 50%); "
        f"with caching in batches = {float(ratio_batch):.1%}; failed requests: {failures}\n\n"
        f"against the paper's inline layout without caching: codebook with caching = {float(ratio_inline):.1%}, "
        f"in batches = {float(ratio_inline_batch):.1%} (information; the target compares the same requests)"
    )
    print("\n".join(lines))
    print(summary)
    if not args.no_write:
        body = (
            f"Six paper-v1 features (codebook layout: every prompt in one cached system prefix, then the cached "
            f"transcript, then a one-line tail) for the first {n} hh-rlhf conversations (harmless-base test "
            "split), all features on every conversation, through the real client to the local fake API "
            "(prompt-caching usage rules: prefix match at breakpoints, 1,024/2,048-token minimum for "
            "Sonnet/Haiku-class models, 5-minute TTL; ~4 characters per token). Prices from LLM_PRICES; cache "
            "writes 1.25x, reads 0.1x the input price; batches half price. Reference: the same codebook requests "
            "without caching. For information, the same run prices the paper's own inline layout (each published "
            "prompt alone, with the conversation where the text puts it, no system prompt), which sends fewer "
            "tokens per request than the codebook: the column 'vs inline, no caching' reads every configuration "
            "against it. With caching, an inline request's only breakpoint is after the conversation, so its "
            "cached prefix (the feature's opening text and the conversation) is never shared with another "
            "request: it can only be written (1.25x), and a prefix under the model's minimum cacheable length "
            "is not cached at all.\n\n" + "\n".join(lines) + f"\n\n{summary}\n"
        )
        command = (
            ".venv/bin/python -m bench.bench_caching_cost "
            f"--data ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz --conversations {n}"
        )
        record_benchmark(TITLE, command, body)
    return 0 if ratio <= Decimal("0.5") and failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
