"""What a prompt set would cost on some conversations before it runs: tokens x price (``extraction.costs``).

Input tokens are the API's own count (``messages.count_tokens``) where the settings name a live API and it
answers: the requests of up to ``COUNT_SAMPLE`` conversations per prompt, spread over the list, are counted and
the rest scaled by their characters (every request is counted when there are no more). Otherwise, with no key or
when the count fails, they are counted locally: the characters of each rendered request divided by
``CHARS_PER_TOKEN`` (Anthropic's rule of thumb for English text, about 3.5-4 characters a token). The estimate
says which count it used, and why. Output tokens are the mean recorded for the same prompt in this set or its
base, else the prompt's ``max_tokens`` (an upper bound). No prompt caching and no gating are assumed: every
prompt is priced on every conversation at the full input price, so for a gated set the figure is an upper bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg

from corpus.models import Conversation
from corpus.transcript import render_transcript
from extraction.costs import TokenCounts, call_cost, price_for, settings_prices
from extraction.llm_types import LLMCall, LLMConfigurationError, LLMUnavailableError
from extraction.models import Extraction
from extraction.prompts import PromptSet, PromptSpec

CHARS_PER_TOKEN = 4
COUNT_SAMPLE = 10  # conversations per prompt whose requests the API counts; the rest are scaled by characters
LOCAL = "local"
API = "api"
OUTPUT_METHOD = (
    "output: mean recorded for this prompt or its base, else max_tokens; no caching, every prompt on every conversation"
)


@dataclass(frozen=True)
class PromptEstimate:
    key: str  # a feature, or "fused"
    model: str
    input_tokens: int
    output_tokens: int
    output_source: str  # "recorded" or "max_tokens"
    cost_usd: Decimal
    counted: int = 0  # conversations whose requests the API counted (0: local count)


@dataclass(frozen=True)
class CostEstimate:
    conversations: int
    prompts: tuple[PromptEstimate, ...]
    input_count: str = LOCAL  # API: the API's token counting; LOCAL: characters / CHARS_PER_TOKEN
    why_local: str = ""  # why the local count was used (no key configured, or the API's error)

    @property
    def cost_usd(self) -> Decimal:
        return sum((p.cost_usd for p in self.prompts), Decimal(0))

    @property
    def per_thousand_usd(self) -> Decimal:
        """Cost per 1,000 conversations at this estimate's mean."""
        if not self.conversations:
            return Decimal(0)
        return (self.cost_usd * 1000 / self.conversations).quantize(Decimal("0.01"))

    @property
    def method(self) -> str:
        if self.input_count == API:
            counted = max((p.counted for p in self.prompts), default=0)
            scaled = "" if counted >= self.conversations else ", the rest scaled by their characters"
            how = f"input: the API's token count (messages.count_tokens) of {counted} conversations per prompt{scaled}"
        else:
            how = f"input: characters / {CHARS_PER_TOKEN} (a local estimate, not the API's count"
            how += f": {self.why_local})" if self.why_local else ")"
        return f"{how}; {OUTPUT_METHOD}"


def _recorded_output(prompt_set: PromptSet, key: str) -> float | None:
    rows = Extraction.objects.filter(
        prompt_version__prompt_set__in=[prompt_set.name, prompt_set.base or prompt_set.name],
        prompt_version__feature=key,
        output_tokens__gt=0,  # a fused call books its tokens on one of its features
    )
    mean = rows.aggregate(mean=Avg("output_tokens"))["mean"]
    return float(mean) if mean is not None else None


def _chars(spec: PromptSpec, transcript: str) -> int:
    parts = spec.render(transcript)
    return len(parts.system) + len(parts.transcript) + len(parts.instructions) + len(parts.prefill)


def _api_input_tokens(
    spec: PromptSpec, model: str, transcripts: Sequence[str], count_tokens: Callable[[LLMCall], int]
) -> tuple[int, int]:
    """(input tokens of every transcript, conversations counted): the API counts an evenly spread sample of at
    most ``COUNT_SAMPLE`` requests, scaled to the rest by characters."""
    step = max(1, -(-len(transcripts) // COUNT_SAMPLE))
    sample = transcripts[::step]
    counted = sum(
        count_tokens(LLMCall(custom_id=f"estimate-{n}", model=model, parts=spec.render(t), max_tokens=spec.max_tokens))
        for n, t in enumerate(sample)
    )
    if len(sample) == len(transcripts):
        return counted, len(sample)
    sample_chars = sum(_chars(spec, t) for t in sample)
    total_chars = sum(_chars(spec, t) for t in transcripts)
    return round(counted * total_chars / sample_chars) if sample_chars else 0, len(sample)


def prompt_set_cost_estimate(
    *,
    prompt_set: PromptSet,
    conversations: Iterable[Conversation],
    models: Mapping[str, str] | None = None,
    count_tokens: Callable[[LLMCall], int] | None = None,
    why_local: str = "no ANTHROPIC_API_KEY configured",
) -> CostEstimate:
    """The estimated tokens and USD of every prompt of ``prompt_set`` on ``conversations`` (see the module).
    ``count_tokens`` is the API's token counting (``extraction.services.token_counter()``); without it, or when
    it fails, input tokens are counted locally and ``why_local`` (or the failure) says why."""
    transcripts = [render_transcript(c.messages) for c in conversations]
    prices = settings_prices()
    resolved = {key: (models or {}).get(key) or spec.model for key, spec in prompt_set.prompts.items()}
    counts: dict[str, tuple[int, int]] = {}
    if count_tokens is not None and not transcripts:
        why_local = "no conversation to count"
    elif count_tokens is not None:
        try:
            for key, spec in prompt_set.prompts.items():
                counts[key] = _api_input_tokens(spec, resolved[key], transcripts, count_tokens)
            why_local = ""
        except (LLMUnavailableError, LLMConfigurationError) as exc:
            counts, why_local = {}, f"the API's token counting failed: {exc}"
    estimates = []
    for key, spec in prompt_set.prompts.items():
        model = resolved[key]
        local = sum(_chars(spec, t) for t in transcripts) // CHARS_PER_TOKEN
        input_tokens, counted = counts.get(key, (local, 0))
        recorded = _recorded_output(prompt_set, key)
        per_call = recorded if recorded is not None else float(spec.max_tokens)
        tokens = TokenCounts(input_tokens=input_tokens, output_tokens=round(per_call * len(transcripts)))
        estimates.append(
            PromptEstimate(
                key=key,
                model=model,
                input_tokens=tokens.input_tokens,
                output_tokens=tokens.output_tokens,
                output_source="recorded" if recorded is not None else "max_tokens",
                cost_usd=call_cost(tokens, price_for(model, prices)),
                counted=counted,
            )
        )
    return CostEstimate(
        conversations=len(transcripts),
        prompts=tuple(estimates),
        input_count=API if counts else LOCAL,
        why_local=why_local,
    )
