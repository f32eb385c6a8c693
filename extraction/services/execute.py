"""One conversation, the unit of work of a task: plan a run's requests, send them, store the answers.

Gating (Section 2.1 of the paper): the subjectivity filter runs first; every other feature runs
only on conversations it passes (yes, Levels 3-4), unless the run has ``all_conversations``.

Requests of one conversation go out in order (subjectivity, then the Sonnet-class features one
after another) so the transcript written to the prompt cache by the first is read by the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from corpus.models import Conversation
from corpus.transcript import render_transcript
from extraction.agreement import Consensus, single_label_consensus, value_set_consensus
from extraction.costs import TokenCounts, call_cost, price_for, settings_prices
from extraction.features import GATED_FEATURES, SUBJECTIVITY_YES, VALUE_FEATURE_NAMES, FeatureName
from extraction.llm_types import LLMCall, LLMProvider, LLMResult
from extraction.models import FUSED, Extraction, ExtractionRun, ExtractionStatus, PromptVersion, RunStatus
from extraction.parsing import ParsedOutput, parse_fused, parse_output
from extraction.prompts import PromptSpec, spec_from_version
from extraction.replay import MissingRecordingError, RecordingKey
from extraction.services.providers import provider_for
from extraction.services.runs import DONE_STATUSES, run_refresh_progress, run_transition


@dataclass(frozen=True)
class Unit:
    """The requests that answer some features of one conversation with one prompt version."""

    spec: PromptSpec
    version: PromptVersion
    model: str
    features: tuple[str, ...]


@dataclass
class RunPlan:
    run: ExtractionRun
    units: list[Unit]  # in order: the subjectivity unit (or the fused one) first
    samples: int
    temperature: float
    gated: bool
    versions: dict[int, PromptVersion] = field(default_factory=dict)


def run_plan(*, run: ExtractionRun) -> RunPlan:
    """The units (prompt version x model x features) of a run, in the order a conversation sends them."""
    options = run.options
    ids: dict[str, int] = options["prompt_versions"]
    versions = {v.pk: v for v in PromptVersion.objects.filter(pk__in=ids.values())}
    features = tuple(options["features"])
    units = []
    for key, version_id in ids.items():
        version = versions[version_id]
        spec = spec_from_version(version)
        unit_features = tuple(f for f in spec.features if f in features) if key == FUSED else (key,)
        units.append(Unit(spec, version, run.model_map[key], unit_features))
    units.sort(key=lambda u: 0 if FeatureName.SUBJECTIVITY in u.features else 1)
    return RunPlan(
        run=run,
        units=units,
        samples=int(options.get("samples", 1)),
        temperature=float(options.get("temperature", 0.0)),
        gated=not options.get("all_conversations", False),
        versions=versions,
    )


@dataclass
class ConversationOutcome:
    conversation_id: int
    stored: int = 0
    skipped: int = 0
    failed: int = 0
    gated_out: bool = False


def custom_id_for(*, run: ExtractionRun, conversation_id: int, unit: Unit, sample: int) -> str:
    key = FUSED if unit.spec.feature == FUSED else unit.spec.feature
    return f"r{run.pk}-c{conversation_id}-{key}-s{sample}"


def _existing(conversation_id: int, unit: Unit) -> dict[str, Extraction]:
    rows = Extraction.objects.filter(
        conversation_id=conversation_id,
        feature__in=unit.features,
        prompt_version=unit.version,
        model=unit.model,
    )
    return {row.feature: row for row in rows}


def _gate(conversation_id: int, plan: RunPlan) -> bool | None:
    """True/False: the subjectivity filter passed/did not; None: not known yet."""
    unit = next((u for u in plan.units if FeatureName.SUBJECTIVITY in u.features), None)
    if unit is None:
        return None
    row = _existing(conversation_id, unit).get(FeatureName.SUBJECTIVITY)
    if row is None or row.status == ExtractionStatus.FAILED:
        return None
    return row.status == ExtractionStatus.OK and row.labels[:1] == [SUBJECTIVITY_YES]


def _pending_features(conversation_id: int, unit: Unit, plan: RunPlan) -> tuple[str, ...]:
    done = {f for f, row in _existing(conversation_id, unit).items() if row.status in DONE_STATUSES}
    wanted = [f for f in unit.features if f not in done]
    if plan.gated and any(f in GATED_FEATURES for f in wanted):
        gate = _gate(conversation_id, plan)
        # A fused prompt answers the filter in the same call, so an unknown gate keeps its features pending.
        if gate is False or (gate is None and unit.spec.feature != FUSED):
            wanted = [f for f in wanted if f not in GATED_FEATURES]
    return tuple(wanted)


def unit_calls(*, run: ExtractionRun, conversation: Conversation, unit: Unit, plan: RunPlan) -> list[LLMCall]:
    """The requests of one unit for one conversation: one per sample."""
    parts = unit.spec.render(render_transcript(conversation.messages))
    return [
        LLMCall(
            custom_id=custom_id_for(run=run, conversation_id=conversation.pk, unit=unit, sample=k),
            model=unit.model,
            parts=parts,
            max_tokens=unit.spec.max_tokens,
            temperature=plan.temperature,
        )
        for k in range(plan.samples)
    ]


def _expect(
    provider: LLMProvider, run: ExtractionRun, conversation: Conversation, unit: Unit, calls: list[LLMCall]
) -> None:
    """Tell a replaying provider which recording each request stands for (a live one needs no such hint)."""
    expect = getattr(provider, "expect", None)
    if expect is None:
        return
    key = FUSED if unit.spec.feature == FUSED else unit.spec.feature
    # A replayed candidate answers with the base version's recording where it has none of its own (see run_create).
    base_hash = (run.options.get("replay_base") or {}).get("hashes", {}).get(key)
    missing = getattr(provider, "missing", None)
    for k, call in enumerate(calls):
        recording = RecordingKey(run.dataset.name, conversation.external_id, key, unit.version.content_hash, k)
        if base_hash and missing is not None and any(missing([recording])):
            recording = RecordingKey(run.dataset.name, conversation.external_id, key, base_hash, k)
        expect(call.custom_id, recording)


def conversation_extract(
    *, run_id: int, conversation_id: int, provider: LLMProvider | None = None
) -> ConversationOutcome | None:
    """Extract every pending feature of one conversation for a run; None if the run or conversation is gone.

    Idempotent: features already done are skipped; a row another worker stored meanwhile wins.
    """
    run = ExtractionRun.objects.select_related("dataset").filter(pk=run_id).first()
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if run is None or conversation is None or run.status in (RunStatus.CANCELLED, RunStatus.SUCCEEDED):
        return None
    plan = run_plan(run=run)
    provider = provider or provider_for(run=run)
    outcome = ConversationOutcome(conversation_id)
    try:
        for unit in plan.units:
            pending = _pending_features(conversation_id, unit, plan)
            outcome.skipped += len(unit.features) - len(pending)
            if not pending:
                continue
            calls = unit_calls(run=run, conversation=conversation, unit=unit, plan=plan)
            _expect(provider, run, conversation, unit, calls)
            results = [provider.complete(call) for call in calls]
            stored = unit_store(run=run, conversation=conversation, unit=unit, plan=plan, results=results)
            outcome.stored += sum(1 for r in stored if r.status in DONE_STATUSES)
            outcome.failed += sum(1 for r in stored if r.status == ExtractionStatus.FAILED)
    except MissingRecordingError as exc:
        run_refresh_progress(run=run)
        if ExtractionRun.objects.get(pk=run.pk).status == RunStatus.RUNNING:
            run_transition(run=run, to=RunStatus.FAILED, error=str(exc))
        raise
    outcome.gated_out = plan.gated and _gate(conversation_id, plan) is False
    _refresh_throttled(run)
    return outcome


# run_id -> (monotonic time, pending items) of this process's last progress refresh.
_LAST_REFRESH: dict[int, tuple[float, int]] = {}
REFRESH_INTERVAL_S = 2.0
REFRESH_ALWAYS_BELOW = 2000  # pending items under which every conversation recounts (a recount is then cheap)


def _refresh_throttled(run: ExtractionRun) -> None:
    """Recount progress at most every few seconds per process, but after every conversation near the end.

    A recount scans the run's items, so doing it after each of N conversations costs O(N^2); far
    from the end nobody needs it that fresh. Below a few thousand pending items every conversation
    recounts, so the worker that finishes the last one sets the run's final status; for larger runs
    the ``extraction.watch_run`` task that ``run_queue`` starts (and ``run_execute`` at its end) does.
    """
    import time

    now = time.monotonic()
    last = _LAST_REFRESH.get(run.pk)
    if last is not None and now - last[0] < REFRESH_INTERVAL_S and last[1] > REFRESH_ALWAYS_BELOW:
        return
    progress = run_refresh_progress(run=run)
    _LAST_REFRESH[run.pk] = (now, progress.pending)


# ---------------------------------------------------------------------------------------------
# Storing results


def _aggregate(feature: str, parsed: list[ParsedOutput]) -> tuple[ParsedOutput, Consensus | None]:
    """The stored answer for N samples, and their agreement (None when there is one sample)."""
    if len(parsed) == 1:
        return parsed[0], None
    answers = [p.labels if p.error is None else None for p in parsed]
    consensus = value_set_consensus(answers) if feature in VALUE_FEATURE_NAMES else single_label_consensus(answers)
    return parsed[consensus.index], consensus


def _sum_usage(results: Iterable[LLMResult]) -> TokenCounts:
    results = list(results)
    return TokenCounts(
        input_tokens=sum(r.usage.input_tokens for r in results),
        output_tokens=sum(r.usage.output_tokens for r in results),
        cache_creation_input_tokens=sum(r.usage.cache_creation_input_tokens for r in results),
        cache_read_input_tokens=sum(r.usage.cache_read_input_tokens for r in results),
    )


def unit_store(
    *,
    run: ExtractionRun,
    conversation: Conversation,
    unit: Unit,
    plan: RunPlan,
    results: Sequence[LLMResult],
    batch: bool = False,
) -> list[Extraction]:
    """Parse the N sample results of one unit and write its feature rows (exactly once each).

    The usage and cost of the requests go on the first feature row written (for a fused prompt:
    one request answers every feature, and it must be counted once).
    """
    failure = next((r.error for r in results if r.error), None)
    raw_texts = [r.text for r in results]
    if unit.spec.feature == FUSED:
        per_sample = [parse_fused(text, unit.features) for text in raw_texts]
    else:
        per_sample = [{unit.features[0]: parse_output(unit.features[0], text)} for text in raw_texts]
    gate_open = True
    if plan.gated and unit.spec.feature == FUSED and failure is None:
        subj, _ = _aggregate(FeatureName.SUBJECTIVITY, [p[FeatureName.SUBJECTIVITY] for p in per_sample])
        gate_open = subj.error is None and subj.passes is True
    usage = _sum_usage(results)
    price = price_for(unit.model, settings_prices())
    cost = call_cost(usage, price, batch=batch)
    latency = sum(r.latency_ms for r in results)
    attempts = sum(r.attempts for r in results)
    rows: list[Extraction] = []
    first = True
    for feature in unit.features:
        if feature in GATED_FEATURES and not gate_open:
            continue
        values: dict[str, Any] = {
            "run": run,
            "batch": batch,
            "request_id": results[0].custom_id if results else "",
            "attempts": attempts if first else 0,
            "input_tokens": usage.input_tokens if first else 0,
            "output_tokens": usage.output_tokens if first else 0,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens if first else 0,
            "cache_read_input_tokens": usage.cache_read_input_tokens if first else 0,
            "latency_ms": latency if first else 0,
            "cost_usd": cost if first else Decimal(0),
        }
        if failure is not None:
            values.update(
                status=ExtractionStatus.FAILED,
                raw_text="",
                labels=[],
                thinking="",
                error=failure,
                level=None,
                samples=[],
                confidence=None,
            )
        else:
            parsed, consensus = _aggregate(feature, [p[feature] for p in per_sample])
            chosen = consensus.index if consensus else 0
            values.update(
                status=ExtractionStatus.OK if parsed.error is None else ExtractionStatus.PARSE_ERROR,
                raw_text=raw_texts[chosen],
                labels=list(parsed.labels),
                thinking=parsed.thinking,
                error=parsed.error or "",
                level=parsed.level,
                samples=[list(p[feature].labels) if p[feature].error is None else None for p in per_sample]
                if consensus
                else [],
                confidence=consensus.confidence if consensus else None,
            )
        row = _write_row(conversation=conversation, feature=feature, unit=unit, values=values)
        rows.append(row)
        first = False
    return rows


def _write_row(*, conversation: Conversation, feature: str, unit: Unit, values: dict[str, Any]) -> Extraction:
    """Insert the item's row, or replace a failed one; a done row written by someone else is kept."""
    key = {"conversation": conversation, "feature": feature, "prompt_version": unit.version, "model": unit.model}
    with transaction.atomic():
        existing = Extraction.objects.select_for_update().filter(**key).first()
        if existing is not None:
            if existing.status in DONE_STATUSES:
                return existing
            for name, value in values.items():
                setattr(existing, name, value)
            existing.save()
            return existing
        try:
            with transaction.atomic():
                return Extraction.objects.create(**key, **values)
        except IntegrityError:
            # Another worker inserted the same item between our check and our insert: its row stands.
            return Extraction.objects.get(**key)
