"""What an LLM call costs, from its usage and the price table in settings (``LLM_PRICES``).

``LLM_PRICES`` maps a model id to USD per million tokens: ``{"input": 3.0, "output": 15.0}``.
Prompt caching and batches are priced as Anthropic prices them
(https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing and
https://docs.anthropic.com/en/docs/build-with-claude/batch-processing#pricing):

    cost = (input·p_in + cache_write·1.25·p_in + cache_read·0.10·p_in + output·p_out) / 10⁶
    cost_batch = 0.5 · cost

where ``input`` excludes the cached tokens (the API reports the three input counts separately).
The arithmetic is in ``Decimal`` so that sums over a run are exact to the micro-dollar.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

CACHE_WRITE_MULTIPLIER = Decimal("1.25")
CACHE_READ_MULTIPLIER = Decimal("0.10")
BATCH_MULTIPLIER = Decimal("0.5")
MILLION = Decimal(1_000_000)
MICRO = Decimal("0.000001")


class UnknownModelPriceError(KeyError):
    def __init__(self, model: str, known: list[str]) -> None:
        super().__init__(model)
        self.model = model
        self.known = known

    def __str__(self) -> str:
        return f"no price for model {self.model!r} in LLM_PRICES (known: {', '.join(self.known) or 'none'})"


@dataclass(frozen=True)
class Price:
    input_per_mtok: Decimal
    output_per_mtok: Decimal


@dataclass(frozen=True)
class TokenCounts:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


def price_table(raw: Mapping[str, Mapping[str, float | str]]) -> dict[str, Price]:
    """Validate the ``LLM_PRICES`` setting into Prices."""
    table = {}
    for model, entry in raw.items():
        try:
            table[model] = Price(Decimal(str(entry["input"])), Decimal(str(entry["output"])))
        except (KeyError, ArithmeticError) as exc:
            raise ValueError(f"LLM_PRICES[{model!r}] needs numeric 'input' and 'output' (USD per MTok)") from exc
    return table


def price_for(model: str, table: Mapping[str, Price]) -> Price:
    if model in table:
        return table[model]
    raise UnknownModelPriceError(model, sorted(table))


def call_cost(usage: TokenCounts, price: Price, *, batch: bool = False) -> Decimal:
    """USD for one call, rounded to the micro-dollar (see the module docstring for the formula)."""
    dollars = (
        usage.input_tokens * price.input_per_mtok
        + usage.cache_creation_input_tokens * price.input_per_mtok * CACHE_WRITE_MULTIPLIER
        + usage.cache_read_input_tokens * price.input_per_mtok * CACHE_READ_MULTIPLIER
        + usage.output_tokens * price.output_per_mtok
    ) / MILLION
    if batch:
        dollars *= BATCH_MULTIPLIER
    return dollars.quantize(MICRO)


def settings_prices() -> dict[str, Price]:
    from django.conf import settings

    return price_table(getattr(settings, "LLM_PRICES", {}))


SHARE_RULE = (
    "a call that produced several features (a fused prompt) shares its tokens and cost equally among them: "
    "each of the n features of the call gets 1/n"
)
SHARED_FIELDS = ("cost_usd", "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def shared_by_feature(
    rows: Iterable[tuple[Hashable, str, Mapping[str, Decimal | int]]],
) -> dict[str, dict[str, Decimal]]:
    """Per feature, the tokens and cost of the calls that produced it, shared out by :data:`SHARE_RULE`.

    ``rows`` are (call key, feature, figures): one row per stored output, the rows of one call under one key (a
    fused call's usage sits on one of its rows, the others hold zeros). Totals are kept: the features' shares
    of a call add up to the call's figures (cost to the micro-dollar, tokens as fractions)."""
    calls: dict[Hashable, list[tuple[str, Mapping[str, Decimal | int]]]] = {}
    for key, feature, figures in rows:
        calls.setdefault(key, []).append((feature, figures))
    out: dict[str, dict[str, Decimal]] = {}
    for members in calls.values():
        n = Decimal(len(members))
        totals = {f: sum((Decimal(fig.get(f) or 0) for _, fig in members), Decimal(0)) for f in SHARED_FIELDS}
        for feature, _ in members:
            entry = out.setdefault(feature, {f: Decimal(0) for f in SHARED_FIELDS})
            for f in SHARED_FIELDS:
                entry[f] += totals[f] / n
    for entry in out.values():
        entry["cost_usd"] = entry["cost_usd"].quantize(MICRO)
        for f in SHARED_FIELDS[1:]:
            entry[f] = entry[f].quantize(Decimal("0.1"))
    return out
