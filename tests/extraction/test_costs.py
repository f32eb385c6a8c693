"""Prices as Anthropic publishes them: cache writes 1.25x, cache reads 0.1x, batches half price."""

from __future__ import annotations

import io
from collections.abc import Hashable, Mapping
from decimal import Decimal

import pytest

from extraction.costs import Price, TokenCounts, UnknownModelPriceError, call_cost, price_for, price_table

SONNET = Price(Decimal(3), Decimal(15))


def test_one_million_tokens_of_each_kind_at_published_sonnet_prices() -> None:
    # Published per-MTok prices for a $3/$15 model: cache write $3.75, cache read $0.30.
    assert call_cost(TokenCounts(input_tokens=1_000_000), SONNET) == Decimal("3.000000")
    assert call_cost(TokenCounts(output_tokens=1_000_000), SONNET) == Decimal("15.000000")
    assert call_cost(TokenCounts(cache_creation_input_tokens=1_000_000), SONNET) == Decimal("3.750000")
    assert call_cost(TokenCounts(cache_read_input_tokens=1_000_000), SONNET) == Decimal("0.300000")


def test_batch_is_half_price_on_everything() -> None:
    usage = TokenCounts(1200, 300, 2500, 4000)
    full = call_cost(usage, SONNET)
    assert full == Decimal("0.018675")  # (1200*3 + 2500*3.75 + 4000*0.3 + 300*15) / 1e6
    assert call_cost(usage, SONNET, batch=True) == (full / 2).quantize(Decimal("0.000001"))


def test_price_table_from_settings_shape() -> None:
    table = price_table({"m": {"input": 1, "output": "5"}})
    assert price_for("m", table) == Price(Decimal(1), Decimal(5))
    with pytest.raises(UnknownModelPriceError, match=r"no price for model 'x' in LLM_PRICES \(known: m\)"):
        price_for("x", table)
    with pytest.raises(ValueError, match=r"LLM_PRICES\['bad'\] needs numeric"):
        price_table({"bad": {"input": 1}})


def test_default_price_table_covers_the_default_models(settings: object) -> None:
    from extraction.costs import settings_prices

    prices = settings_prices()
    assert {"claude-sonnet-4-5", "claude-haiku-4-5"} <= set(prices)


def test_a_fused_call_is_shared_equally_among_the_features_it_produced() -> None:
    from extraction.costs import shared_by_feature

    usage: dict[str, Decimal | int] = {"cost_usd": Decimal("0.006000"), "input_tokens": 600, "output_tokens": 120}
    zero: dict[str, Decimal | int] = {"cost_usd": Decimal(0), "input_tokens": 0, "output_tokens": 0}
    task: dict[str, Decimal | int] = {"cost_usd": Decimal("0.001000"), "input_tokens": 100, "output_tokens": 10}
    rows: list[tuple[Hashable, str, Mapping[str, Decimal | int]]] = [
        (("c1", "fused"), "subjectivity", usage),  # the call's usage sits on one row
        (("c1", "fused"), "ai_values", zero),
        (("c1", "fused"), "response_type", zero),
        (7, "task", task),
    ]
    shared = shared_by_feature(rows)
    assert shared["ai_values"]["cost_usd"] == Decimal("0.002000")
    assert shared["subjectivity"]["input_tokens"] == Decimal(200)
    assert shared["task"]["cost_usd"] == Decimal("0.001000")
    assert sum(s["cost_usd"] for s in shared.values()) == Decimal("0.007000")


@pytest.mark.django_db
def test_the_fused_demo_run_books_no_feature_at_zero_once_shared_out() -> None:
    from pathlib import Path

    from django.core.management import call_command

    from extraction.models import ExtractionRun
    from extraction.selectors import run_costs

    sample = Path(__file__).resolve().parents[2] / "sample" / "conversations.jsonl"
    call_command("import_conversations", str(sample), dataset="sample", stdout=io.StringIO())
    call_command(
        "extract", dataset="sample", prompts="fused-v1", provider="replay", no_progress=True, stdout=io.StringIO()
    )
    costs = run_costs(run=ExtractionRun.objects.get(prompt_set="fused-v1"))
    booked = {f: c["cost_usd"] for f, c in costs["by_feature"].items()}
    shared = {f: c["cost_usd"] for f, c in costs["by_feature_shared"].items()}
    assert (
        set(booked)
        == set(shared)
        == {"subjectivity", "ai_values", "human_values", "ai_values_stated", "response_type", "task"}
    )
    assert booked["ai_values"] == 0  # as booked: the whole call on subjectivity
    assert all(v > 0 for v in shared.values())
    assert abs(sum(shared.values()) - costs["cost_usd"]) <= Decimal("0.000010")  # rounding of six shares
    # The 41 conversations the filter kept had one call producing six features; the other 9 only subjectivity.
    assert shared["subjectivity"] > shared["ai_values"]
