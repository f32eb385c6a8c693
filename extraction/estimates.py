"""What a prompt set would cost on some conversations before it runs: tokens x price (``extraction.costs``).

Input tokens are counted locally, as the characters of each rendered request divided by ``CHARS_PER_TOKEN``
(Anthropic's rule of thumb for English text, about 3.5-4 characters a token); the API's token counting needs a
key and the network, which a run from recorded responses has not. Output tokens are the mean recorded for the
same prompt in this set or its base, else the prompt's ``max_tokens`` (an upper bound). No prompt caching and no
gating are assumed: every prompt is priced on every conversation at the full input price, so for a gated set the
figure is an upper bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg

from corpus.models import Conversation
from corpus.transcript import render_transcript
from extraction.costs import TokenCounts, call_cost, price_for, settings_prices
from extraction.models import Extraction
from extraction.prompts import PromptSet

CHARS_PER_TOKEN = 4
METHOD = (
    f"input: characters / {CHARS_PER_TOKEN} (a local estimate, not the API's count); output: mean recorded for "
    "this prompt or its base, else max_tokens; no caching, every prompt on every conversation"
)


@dataclass(frozen=True)
class PromptEstimate:
    key: str  # a feature, or "fused"
    model: str
    input_tokens: int
    output_tokens: int
    output_source: str  # "recorded" or "max_tokens"
    cost_usd: Decimal


@dataclass(frozen=True)
class CostEstimate:
    conversations: int
    prompts: tuple[PromptEstimate, ...]
    method: str = METHOD

    @property
    def cost_usd(self) -> Decimal:
        return sum((p.cost_usd for p in self.prompts), Decimal(0))

    @property
    def per_thousand_usd(self) -> Decimal:
        """Cost per 1,000 conversations at this estimate's mean."""
        if not self.conversations:
            return Decimal(0)
        return (self.cost_usd * 1000 / self.conversations).quantize(Decimal("0.01"))


def _recorded_output(prompt_set: PromptSet, key: str) -> float | None:
    rows = Extraction.objects.filter(
        prompt_version__prompt_set__in=[prompt_set.name, prompt_set.base or prompt_set.name],
        prompt_version__feature=key,
        output_tokens__gt=0,  # a fused call books its tokens on one of its features
    )
    mean = rows.aggregate(mean=Avg("output_tokens"))["mean"]
    return float(mean) if mean is not None else None


def prompt_set_cost_estimate(
    *, prompt_set: PromptSet, conversations: Iterable[Conversation], models: Mapping[str, str] | None = None
) -> CostEstimate:
    """The estimated tokens and USD of every prompt of ``prompt_set`` on ``conversations`` (see the module)."""
    transcripts = [render_transcript(c.messages) for c in conversations]
    prices = settings_prices()
    estimates = []
    for key, spec in prompt_set.prompts.items():
        model = (models or {}).get(key) or spec.model
        chars = 0
        for transcript in transcripts:
            parts = spec.render(transcript)
            chars += len(parts.system) + len(parts.transcript) + len(parts.instructions) + len(parts.prefill)
        recorded = _recorded_output(prompt_set, key)
        per_call = recorded if recorded is not None else float(spec.max_tokens)
        tokens = TokenCounts(input_tokens=chars // CHARS_PER_TOKEN, output_tokens=round(per_call * len(transcripts)))
        estimates.append(
            PromptEstimate(
                key=key,
                model=model,
                input_tokens=tokens.input_tokens,
                output_tokens=tokens.output_tokens,
                output_source="recorded" if recorded is not None else "max_tokens",
                cost_usd=call_cost(tokens, price_for(model, prices)),
            )
        )
    return CostEstimate(conversations=len(transcripts), prompts=tuple(estimates))
