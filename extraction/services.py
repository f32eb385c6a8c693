"""Writes of the extraction app: creating, running, resuming and finishing extraction runs.

A run is a dataset x prompt set x models x options. Its *items* are (conversation, feature); an
item is done when an ``Extraction`` row exists for (conversation, feature, prompt version, model)
with status ok or parse_error (the unique constraint makes that row exist at most once). A row
with status failed (the request failed after the client's retries) is retried by the next pass.
Progress is always recomputed from the rows, never counted up, so a worker killed at any point,
a task delivered twice, or a rerun of the whole command leaves the counts right.

Gating (Section 2.1 of the paper): the subjectivity filter runs first; every other feature runs
only on conversations it passes (yes, Levels 3-4), unless the run has ``all_conversations``.

Requests of one conversation go out in order (subjectivity, then the Sonnet-class features one
after another) so the transcript written to the prompt cache by the first is read by the next.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from corpus.models import Conversation, Dataset
from corpus.transcript import render_transcript
from extraction import selectors
from extraction.agreement import Consensus, single_label_consensus, value_set_consensus
from extraction.costs import TokenCounts, UnknownModelPriceError, call_cost, price_for, settings_prices
from extraction.features import GATED_FEATURES, SUBJECTIVITY_YES, VALUE_FEATURE_NAMES, FeatureName
from extraction.llm import MessageBatches, client_settings_check, requests_fingerprint
from extraction.llm_types import LLMCall, LLMConfigurationError, LLMProvider, LLMResult, LLMUnavailableError
from extraction.models import (
    FUSED,
    BatchStatus,
    Extraction,
    ExtractionBatch,
    ExtractionRun,
    ExtractionStatus,
    PromptVersion,
    RunStatus,
)
from extraction.parsing import ParsedOutput, parse_fused, parse_output
from extraction.prompts import PromptFileError, PromptSpec, load_prompt_set, prompt_set_register, spec_from_version
from extraction.replay import MissingRecordingError, RecordingFileError, RecordingKey, ReplayProvider

logger = logging.getLogger(__name__)

PROVIDERS = ("replay", "anthropic")
DONE_STATUSES = (ExtractionStatus.OK, ExtractionStatus.PARSE_ERROR)
MAX_BATCH_SUBMISSIONS = 2
# Requests per Message Batch we submit (the API takes up to 100,000 and 256 MB; our requests carry a
# ~13 kB shared prefix each, so 5,000 stays far below the size limit).
BATCH_CHUNK = 5_000
# A batch left "submitting" by a crash is looked for among the account's batches created since the
# row was written, less this margin for the difference between our clock and the API's.
BATCH_LIST_CLOCK_SKEW = timedelta(minutes=10)
# How many result custom_ids of a candidate batch are compared with the row's before adopting it.
BATCH_VERIFY_IDS = 50

# Allowed run status transitions; anything else is a bug or a race and is refused.
TRANSITIONS: dict[str, set[str]] = {
    RunStatus.PENDING: {RunStatus.RUNNING, RunStatus.CANCELLED},
    RunStatus.RUNNING: {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED},
    RunStatus.FAILED: {RunStatus.RUNNING, RunStatus.CANCELLED},
    RunStatus.SUCCEEDED: set(),
    RunStatus.CANCELLED: set(),
}


class RunError(ValueError):
    """A run cannot be created or advanced as asked; the message says what and how to fix it."""


class InvalidTransitionError(RunError):
    pass


# ---------------------------------------------------------------------------------------------
# Creating and moving runs


def run_create(
    *,
    dataset: str,
    prompt_set: str,
    features: Sequence[str] | None = None,
    models: dict[str, str] | None = None,
    provider: str = "replay",
    limit: int | None = None,
    samples: int = 1,
    all_conversations: bool = False,
    batch: bool = False,
    created_by: Any = None,
) -> ExtractionRun:
    """Validate the options, register the prompt set's versions and create a pending run."""
    ds = Dataset.objects.filter(name=dataset).first()
    if ds is None:
        known = ", ".join(Dataset.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise RunError(f"no dataset named {dataset!r} (known: {known}); import it with import_conversations")
    if provider not in PROVIDERS:
        raise RunError(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    if samples < 1:
        raise RunError(f"samples must be at least 1, got {samples}")
    if limit is not None and limit < 1:
        raise RunError(f"limit must be at least 1, got {limit}")
    if batch and provider != "anthropic":
        raise RunError("batch mode needs the anthropic provider (the Message Batches API)")
    try:
        pset = load_prompt_set(prompt_set)
    except PromptFileError as exc:
        raise RunError(str(exc)) from exc
    wanted = tuple(features) if features else pset.features
    unknown = [f for f in wanted if f not in pset.features]
    if unknown:
        raise RunError(f"prompt set {pset.name!r} has no prompt for {', '.join(unknown)} (it has {pset.features})")
    if not all_conversations and any(f in GATED_FEATURES for f in wanted):
        # The filter decides which conversations the other features run on, so it always runs.
        wanted = (FeatureName.SUBJECTIVITY, *wanted)
    ordered = tuple(f for f in pset.features if f in wanted)
    overrides = {**getattr(settings, "EXTRACTION_MODELS", {}), **(models or {})}
    if models and set(models) - {*pset.features, FUSED}:
        raise RunError(f"models given for unknown features: {', '.join(sorted(set(models) - set(pset.features)))}")
    versions = prompt_set_register(prompt_set=pset)
    spec_keys = (FUSED,) if pset.fused else ordered
    model_map = {key: overrides.get(key, pset.prompts[key].model) for key in spec_keys}
    prices = settings_prices()
    for model in model_map.values():
        try:
            price_for(model, prices)
        except UnknownModelPriceError as exc:
            raise RunError(f"{exc}; add it to LLM_PRICES") from exc
    run = ExtractionRun.objects.create(
        dataset=ds,
        prompt_set=pset.name,
        provider=provider,
        model_map=model_map,
        options={
            "features": list(ordered),
            "limit": limit,
            "samples": samples,
            "all_conversations": all_conversations,
            "batch": batch,
            "temperature": float(getattr(settings, "EXTRACTION_SAMPLE_TEMPERATURE", 1.0)) if samples > 1 else 0.0,
            "prompt_versions": {key: versions[key].pk for key in spec_keys},
        },
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    run_refresh_progress(run=run)
    return run


def run_transition(*, run: ExtractionRun, to: str, error: str = "") -> ExtractionRun:
    """Move ``run`` to status ``to`` if allowed (checked against the row, under a lock)."""
    with transaction.atomic():
        current = ExtractionRun.objects.select_for_update().get(pk=run.pk)
        if to == current.status:
            return current
        if to not in TRANSITIONS[current.status]:
            raise InvalidTransitionError(f"run {run.pk} cannot go from {current.status} to {to}")
        current.status = to
        now = timezone.now()
        if to == RunStatus.RUNNING:
            current.started_at = current.started_at or now
            current.finished_at = None
            current.error = ""
        elif to in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
            current.finished_at = now
            current.error = error
        current.save(update_fields=["status", "started_at", "finished_at", "error"])
    run.refresh_from_db()
    return run


def run_start(*, run: ExtractionRun) -> ExtractionRun:
    """Pending or failed (resume) -> running."""
    return run_transition(run=run, to=RunStatus.RUNNING)


def run_cancel(*, run: ExtractionRun) -> ExtractionRun:
    return run_transition(run=run, to=RunStatus.CANCELLED)


def run_find_resumable(
    *, dataset: str, prompt_set: str, features: Sequence[str] | None, options: dict[str, Any]
) -> ExtractionRun | None:
    """The latest unfinished run with the same dataset, prompt set and options (so a rerun resumes it)."""
    candidates = ExtractionRun.objects.filter(
        dataset__name=dataset,
        prompt_set=prompt_set,
        status__in=[RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED],
    ).order_by("-pk")
    for run in candidates:
        same = all(run.options.get(k) == v for k, v in options.items())
        has = set(run.options.get("features", []))
        # Same features: the asked ones, plus the filter a gated run adds by itself.
        if same and (not features or set(features) <= has <= {*features, FeatureName.SUBJECTIVITY}):
            return run
    return None


# ---------------------------------------------------------------------------------------------
# Progress


Progress = selectors.RunProgress


def run_refresh_progress(*, run: ExtractionRun) -> Progress:
    """Recompute total/done/failed from the rows and finish the run when nothing is pending."""
    progress = selectors.run_progress(run=run)
    ExtractionRun.objects.filter(pk=run.pk).update(
        total_items=progress.total, done_items=progress.done, failed_items=progress.failed
    )
    run.total_items, run.done_items, run.failed_items = progress.total, progress.done, progress.failed
    if progress.pending == 0:
        current = ExtractionRun.objects.get(pk=run.pk)
        if current.status == RunStatus.FAILED and progress.failed == 0:
            # A recount in the middle of a resumed pass saw the failed items it had not reached yet and
            # ended the run failed; the pass went on and did them. The rows decide: the run succeeded.
            run_transition(run=run, to=RunStatus.RUNNING)
            current.status = RunStatus.RUNNING
        if current.status == RunStatus.RUNNING:
            if progress.failed:
                error = f"{progress.failed} item(s) failed; run the extraction again to retry them"
                run_transition(run=run, to=RunStatus.FAILED, error=error)
            else:
                run_transition(run=run, to=RunStatus.SUCCEEDED)
    return progress


# ---------------------------------------------------------------------------------------------
# Providers


@functools.cache
def _replay_provider(path: str, mtime: float) -> ReplayProvider:
    return ReplayProvider.from_file(path)


def provider_for(run: ExtractionRun) -> LLMProvider:
    """The provider a run was created with (live client, or the recordings in EXTRACTION_REPLAY_FILE)."""
    if run.provider == "replay":
        path = Path(settings.EXTRACTION_REPLAY_FILE)
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise RunError(f"replay: cannot read recorded responses {path}: {exc.strerror}") from exc
        try:
            return _replay_provider(str(path), mtime)
        except RecordingFileError as exc:
            raise RunError(str(exc)) from exc
    if run.provider == "anthropic":
        # One client per process and endpoint (keeps its connection pool), rebuilt when the settings change.
        return _anthropic_provider(settings.ANTHROPIC_BASE_URL, hash(settings.ANTHROPIC_API_KEY))
    raise RunError(f"unknown provider {run.provider!r}")


def provider_check(*, provider: str) -> None:
    """Refuse a provider that cannot work with the settings (call before creating or resuming a run).

    Not part of ``run_create``: a run may be executed with a provider given in code (tests, benchmarks).
    """
    if provider == "anthropic":
        try:
            client_settings_check()
        except LLMConfigurationError as exc:
            raise RunError(str(exc)) from exc


@functools.lru_cache(maxsize=4)
def _anthropic_provider(base_url: str, key_hash: int) -> LLMProvider:
    from extraction.llm import AnthropicProvider

    return AnthropicProvider.from_settings()


def text_complete(prompt: str) -> str:
    """One free-form completion through the live client (shared rate limiter, retries, cost-free of runs).

    What the taxonomy namer calls: ``TAXONOMY_NAMER=extraction.services.text_complete`` names clusters with
    ``LLM_TEXT_MODEL`` and the prompt in ``prompts/taxonomy/``. Raises ``RunError`` when the API is not
    configured and ``LLMUnavailableError`` when the request failed after the retries.
    """
    from extraction.llm_types import LLMCall, LLMUnavailableError, PromptParts

    provider_check(provider="anthropic")
    provider = _anthropic_provider(settings.ANTHROPIC_BASE_URL, hash(settings.ANTHROPIC_API_KEY))
    call = LLMCall(
        custom_id="text-" + hashlib.sha256(prompt.encode()).hexdigest()[:40],
        model=settings.LLM_TEXT_MODEL,
        parts=PromptParts(system="", transcript="", instructions=prompt),
        max_tokens=settings.LLM_TEXT_MAX_TOKENS,
    )
    result = provider.complete(call)
    if result.error:
        raise LLMUnavailableError(f"text completion with {call.model} failed: {result.error}")
    return result.text


# ---------------------------------------------------------------------------------------------
# One conversation: the unit of work of a task


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


def run_plan(run: ExtractionRun) -> RunPlan:
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


def custom_id_for(run: ExtractionRun, conversation_id: int, unit: Unit, sample: int) -> str:
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


def _calls(run: ExtractionRun, conversation: Conversation, unit: Unit, plan: RunPlan) -> list[LLMCall]:
    parts = unit.spec.render(render_transcript(conversation.messages))
    return [
        LLMCall(
            custom_id=custom_id_for(run, conversation.pk, unit, k),
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
    for k, call in enumerate(calls):
        expect(
            call.custom_id, RecordingKey(run.dataset.name, conversation.external_id, key, unit.version.content_hash, k)
        )


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
    plan = run_plan(run)
    provider = provider or provider_for(run)
    outcome = ConversationOutcome(conversation_id)
    try:
        for unit in plan.units:
            pending = _pending_features(conversation_id, unit, plan)
            outcome.skipped += len(unit.features) - len(pending)
            if not pending:
                continue
            calls = _calls(run, conversation, unit, plan)
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


# ---------------------------------------------------------------------------------------------
# Live runs: queue one task per conversation


def run_conversation_ids(*, run: ExtractionRun) -> list[int]:
    return list(selectors.run_conversations(run=run).values_list("pk", flat=True))


def run_incomplete_conversation_ids(*, run: ExtractionRun) -> list[int]:
    """Conversations with at least one item still to do (or whose filter answer is not known yet)."""
    return list(selectors.run_pending(run=run))


def run_queue(*, run: ExtractionRun) -> int:
    """Start (or resume) the run and queue a task for each incomplete conversation, after commit."""
    from extraction.tasks import extraction_conversation_process

    run_start(run=run)
    ids = run_incomplete_conversation_ids(run=run)
    for conversation_id in ids:
        transaction.on_commit(
            functools.partial(extraction_conversation_process.delay, run.pk, conversation_id)  # type: ignore[attr-defined]
        )
    if not ids:
        run_refresh_progress(run=run)
    else:
        from extraction.tasks import extraction_run_watch

        transaction.on_commit(functools.partial(extraction_run_watch.delay, run.pk))  # type: ignore[attr-defined]
    return len(ids)


def run_execute(
    *,
    run: ExtractionRun,
    provider: LLMProvider | None = None,
    on_conversation: Callable[[ConversationOutcome | None], None] | None = None,
) -> Progress:
    """Run (or resume) every incomplete conversation in this process, in order; return the progress."""
    run_start(run=run)
    for conversation_id in run_incomplete_conversation_ids(run=run):
        if ExtractionRun.objects.filter(pk=run.pk, status=RunStatus.CANCELLED).exists():
            break
        outcome = conversation_extract(run_id=run.pk, conversation_id=conversation_id, provider=provider)
        if on_conversation:
            on_conversation(outcome)
    run.refresh_from_db()
    return run_refresh_progress(run=run)


# ---------------------------------------------------------------------------------------------
# Batch runs: submit what is pending, persist the batch id, collect when it has ended


@dataclass(frozen=True)
class BatchStep:
    action: str  # "submitted" | "waiting" | "collected" | "done"
    batch_id: str = ""
    requests: int = 0
    detail: str = ""


def run_batch_step(*, run: ExtractionRun, batches: MessageBatches) -> BatchStep:
    """Advance a batch run by one step; safe to call again after a crash at any point.

    A batch row left ``submitting`` (the process died between writing it and saving the batch id)
    is resolved first, by ``batch_resolve_submitting``. A submitted batch is polled and, once
    ended, its results are stored; only when no batch is outstanding are the pending items (the
    subjectivity filter first, then the gated features of the conversations it passed) written as
    new ``submitting`` rows, submitted, and given their ids.
    """
    run.refresh_from_db()
    if run.status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED):
        return BatchStep("done", detail=run.status)
    run_start(run=run)
    try:
        return _batch_step(run, batches)
    except LLMUnavailableError as exc:
        # Nothing is lost: submitted batches keep their ids, an interrupted submission its row.
        run_transition(run=run, to=RunStatus.FAILED, error=f"{exc}; run the extraction again to resume")
        raise


def _batch_step(run: ExtractionRun, batches: MessageBatches) -> BatchStep:
    plan = run_plan(run)
    unresolved = [
        row.pk
        for row in run.batches.filter(status=BatchStatus.SUBMITTING).order_by("pk")
        if batch_resolve_submitting(run=run, batch=row, batches=batches, plan=plan) == "waiting"
    ]
    if unresolved:
        detail = f"{len(unresolved)} interrupted submission(s): waiting for a candidate batch to end to verify it"
        return BatchStep("waiting", detail=detail)
    outstanding = list(run.batches.filter(status=BatchStatus.SUBMITTED).order_by("pk"))
    if outstanding:
        collected = waiting = 0
        for batch in outstanding:
            status = batches.poll(batch.batch_id)
            if status.ended:
                collected += batch_collect(run=run, batch=batch, batches=batches, plan=plan)
            else:
                waiting += status.processing
        if collected:
            return BatchStep("collected", ",".join(b.batch_id for b in outstanding), collected)
        return BatchStep("waiting", ",".join(b.batch_id for b in outstanding), waiting, f"{waiting} processing")
    chunks: list[list[LLMCall]] = [[]]
    items: dict[str, dict[str, Any]] = {}
    # An item that failed in a batch is submitted once more, not forever: then the run ends failed.
    submissions: dict[tuple[int, int], int] = {}
    for earlier in run.batches.all():
        for item in earlier.items.values():
            if item["sample"] == 0:
                key = (item["conversation"], item["version"])
                submissions[key] = submissions.get(key, 0) + 1
    pending = selectors.run_pending(run=run)
    for conversation in selectors.run_conversations(run=run).iterator(chunk_size=2000):
        for unit in plan.units:
            if submissions.get((conversation.pk, unit.version.pk), 0) >= MAX_BATCH_SUBMISSIONS:
                continue
            if not set(unit.features) & set(pending.get(conversation.pk, ())):
                continue
            unit_calls = _calls(run, conversation, unit, plan)
            # The samples of one item go in the same batch: they are stored together when it ends.
            if chunks[-1] and len(chunks[-1]) + len(unit_calls) > BATCH_CHUNK:
                chunks.append([])
            for k, call in enumerate(unit_calls):
                chunks[-1].append(call)
                items[call.custom_id] = {"conversation": conversation.pk, "version": unit.version.pk, "sample": k}
    if not items:
        run_refresh_progress(run=run)
        return BatchStep("done")
    # Rows first, then the API: a crash after ``submit`` leaves a row that knows what was sent.
    with transaction.atomic():
        rows = [
            ExtractionBatch.objects.create(
                run=run,
                status=BatchStatus.SUBMITTING,
                items={c.custom_id: items[c.custom_id] for c in chunk},
                request_count=len(chunk),
                fingerprint=requests_fingerprint(chunk),
            )
            for chunk in chunks
        ]
    ids = []
    for row, chunk in zip(rows, chunks, strict=True):
        batch_id = batches.submit(chunk)
        _batch_mark_submitted(batch=row, batch_id=batch_id)
        ids.append(batch_id)
    return BatchStep("submitted", ",".join(ids), len(items))


def _batch_mark_submitted(*, batch: ExtractionBatch, batch_id: str, fingerprint: str | None = None) -> None:
    values: dict[str, Any] = {"batch_id": batch_id, "status": BatchStatus.SUBMITTED}
    if fingerprint is not None:
        values["fingerprint"] = fingerprint
    ExtractionBatch.objects.filter(pk=batch.pk, status=BatchStatus.SUBMITTING).update(**values)
    batch.batch_id, batch.status = batch_id, BatchStatus.SUBMITTED


def _batch_calls(run: ExtractionRun, batch: ExtractionBatch, plan: RunPlan) -> dict[str, LLMCall]:
    """The requests of ``batch`` rebuilt from its items (custom_id -> call), in the order they were stored."""
    by_version = {u.version.pk: u for u in plan.units}
    conversation_ids = {item["conversation"] for item in batch.items.values()}
    conversations = {c.pk: c for c in Conversation.objects.filter(pk__in=conversation_ids)}
    calls: dict[str, LLMCall] = {}
    for custom_id, item in batch.items.items():
        unit = by_version[item["version"]]
        calls[custom_id] = _calls(run, conversations[item["conversation"]], unit, plan)[item["sample"]]
    return calls


def batch_resolve_submitting(
    *, run: ExtractionRun, batch: ExtractionBatch, batches: MessageBatches, plan: RunPlan
) -> str:
    """Settle a row left ``submitting``: adopt the batch it became, or submit it (again); never both.

    The API may have created the batch before the process died. The list endpoint shows neither the
    requests nor their custom_ids, so a candidate is a batch created since the row was written (less
    ``BATCH_LIST_CLOCK_SKEW``), not already known to any row, with the same request count; it is
    adopted once it has ended and its first results carry this row's custom_ids (they name the run,
    the conversation and the feature, so another run's batch cannot match). While a candidate is
    still processing it cannot be verified: the answer is "waiting", and nothing is submitted.
    Only when no candidate exists is the batch submitted. Returns "adopted", "waiting" or "submitted".
    """
    known = set(ExtractionBatch.objects.exclude(batch_id="").values_list("batch_id", flat=True))
    wanted = set(batch.items)
    unverified = 0
    for listed in batches.recent(since=batch.submitted_at - BATCH_LIST_CLOCK_SKEW):
        if listed.batch_id in known or listed.request_total != batch.request_count:
            continue
        if not listed.ended:
            unverified += 1
            continue
        ids = batches.result_custom_ids(listed.batch_id, limit=min(BATCH_VERIFY_IDS, batch.request_count))
        if ids and set(ids) <= wanted:
            logger.info("run %s: adopting batch %s submitted before an interruption", run.pk, listed.batch_id)
            _batch_mark_submitted(batch=batch, batch_id=listed.batch_id)
            return "adopted"
    if unverified:
        return "waiting"
    calls = _batch_calls(run, batch, plan)
    fingerprint = requests_fingerprint(calls.values())
    if batch.fingerprint and fingerprint != batch.fingerprint:
        # The code that renders requests changed since the first attempt: what goes out now is recorded.
        logger.warning("run %s: batch row %s is resubmitted with different requests", run.pk, batch.pk)
    batch_id = batches.submit(list(calls.values()))
    _batch_mark_submitted(batch=batch, batch_id=batch_id, fingerprint=fingerprint)
    return "submitted"


def batch_collect(*, run: ExtractionRun, batch: ExtractionBatch, batches: MessageBatches, plan: RunPlan) -> int:
    """Store the results of an ended batch (items already done are skipped) and mark it collected."""
    by_version = {u.version.pk: u for u in plan.units}
    calls_by_id = _batch_calls(run, batch, plan)
    conversation_ids = {item["conversation"] for item in batch.items.values()}
    conversations = {c.pk: c for c in Conversation.objects.filter(pk__in=conversation_ids)}
    grouped: dict[tuple[int, int], dict[int, LLMResult]] = {}
    for result in batches.results(batch.batch_id, calls_by_id.values()):
        item = batch.items.get(result.custom_id)
        if item is None:
            continue
        grouped.setdefault((item["conversation"], item["version"]), {})[item["sample"]] = result
    stored = 0
    for (conversation_id, version_id), by_sample in grouped.items():
        results = [by_sample[k] for k in sorted(by_sample)]
        unit = by_version[version_id]
        rows = unit_store(
            run=run, conversation=conversations[conversation_id], unit=unit, plan=plan, results=results, batch=True
        )
        stored += len(rows)
    ExtractionBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.COLLECTED, collected_at=timezone.now())
    run_refresh_progress(run=run)
    return stored


def run_batch_execute(
    *,
    run: ExtractionRun,
    batches: MessageBatches,
    poll_interval_s: float,
    on_step: Callable[[BatchStep], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Progress:
    """Step a batch run until nothing is pending (waiting ``poll_interval_s`` between polls)."""
    import time

    sleep = sleep or time.sleep
    while True:
        step = run_batch_step(run=run, batches=batches)
        if on_step:
            on_step(step)
        if step.action == "done":
            break
        if step.action == "waiting":
            sleep(poll_interval_s)
        run.refresh_from_db()
        if run.status == RunStatus.CANCELLED:
            break
    run.refresh_from_db()
    return run_refresh_progress(run=run)
