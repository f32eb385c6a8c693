"""Prices as Anthropic publishes them: cache writes 1.25x, cache reads 0.1x, batches half price."""

from __future__ import annotations

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
