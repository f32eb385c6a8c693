"""Extraction runs: creating them, moving them between statuses, finding one to resume, counting progress.

A run is a dataset x prompt set x models x options. Its *items* are (conversation, feature); an
item is done when an ``Extraction`` row exists for (conversation, feature, prompt version, model)
with status ok or parse_error (the unique constraint makes that row exist at most once). A row
with status failed (the request failed after the client's retries) is retried by the next pass.
Progress is always recomputed from the rows, never counted up, so a worker killed at any point,
a task delivered twice, or a rerun of the whole command leaves the counts right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from corpus.cache import reports_warm_soon
from corpus.models import Conversation
from corpus.selectors import UnknownDatasetError, dataset_id_by_name
from extraction import selectors
from extraction.costs import UnknownModelPriceError, price_for, settings_prices
from extraction.features import GATED_FEATURES, FeatureName
from extraction.models import FUSED, ExtractionRun, ExtractionStatus, RunStatus
from extraction.prompts import PromptFileError, PromptSet, load_prompt_set, prompt_set_register

PROVIDERS = ("replay", "anthropic")
DONE_STATUSES = (ExtractionStatus.OK, ExtractionStatus.PARSE_ERROR)
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
    conversation_ids: Sequence[int] | None = None,
    samples: int = 1,
    all_conversations: bool = False,
    batch: bool = False,
    created_by: Any = None,
    launch_key: str = "",
) -> ExtractionRun:
    """Validate the options, register the prompt set's versions and create a pending run: on the dataset's
    conversations (the first ``limit`` of them), or on exactly ``conversation_ids``; ``launch_key``: run_start_once."""
    try:
        dataset_id = dataset_id_by_name(dataset)
    except UnknownDatasetError as exc:
        raise RunError(f"{exc}; import it with import_conversations") from exc
    if dataset_id is None:
        raise RunError("a dataset name is needed")
    if provider not in PROVIDERS:
        raise RunError(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    if samples < 1:
        raise RunError(f"samples must be at least 1, got {samples}")
    if limit is not None and limit < 1:
        raise RunError(f"limit must be at least 1, got {limit}")
    ids = _conversation_ids_check(dataset_id=dataset_id, conversation_ids=conversation_ids, limit=limit)
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
    options: dict[str, Any] = {}
    if provider == "replay" and pset.base:
        options["replay_base"] = _replay_base(pset=pset, keys=spec_keys)
    run = ExtractionRun.objects.create(
        dataset_id=dataset_id,
        prompt_set=pset.name,
        provider=provider,
        model_map=model_map,
        options={
            "features": list(ordered),
            "limit": limit,
            "conversation_ids": ids,
            "samples": samples,
            "all_conversations": all_conversations,
            "batch": batch,
            "temperature": float(getattr(settings, "EXTRACTION_SAMPLE_TEMPERATURE", 1.0)) if samples > 1 else 0.0,
            "prompt_versions": {key: versions[key].pk for key in spec_keys},
            **options,
        },
        created_by=created_by if getattr(created_by, "pk", None) else None,
        launch_key=launch_key,
    )
    run_refresh_progress(run=run)
    return run


def _conversation_ids_check(
    *, dataset_id: int, conversation_ids: Sequence[int] | None, limit: int | None
) -> list[int] | None:
    """The listed conversations, sorted, once each; each must belong to the dataset."""
    if conversation_ids is None:
        return None
    if limit is not None:
        raise RunError("give a limit or a list of conversations, not both")
    ids = sorted({int(pk) for pk in conversation_ids})
    if not ids:
        raise RunError("the list of conversations is empty")
    found = set(Conversation.objects.filter(dataset_id=dataset_id, pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise RunError(f"{len(missing)} listed conversation(s) are not in the run's dataset: {shown}")
    return ids


def _replay_base(*, pset: PromptSet, keys: Sequence[str]) -> dict[str, Any]:
    """For a replayed candidate: the base set's version hash of each prompt, whose recordings stand in for the
    candidate's own when those are missing (a new prompt has no recordings until someone records them)."""
    try:
        base = load_prompt_set(pset.base)
    except PromptFileError as exc:
        raise RunError(f"candidate {pset.name!r}: its base set cannot be read: {exc}") from exc
    missing = [key for key in keys if key not in base.prompts]
    if missing:
        raise RunError(f"candidate {pset.name!r}: its base set {base.name!r} has no prompt for {', '.join(missing)}")
    return {"set": base.name, "hashes": {key: base.prompts[key].content_hash for key in keys}}


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
            reports_warm_soon(run_id=run.pk)  # its reports (and every report of the data) are final now
        current.save(update_fields=["status", "started_at", "finished_at", "error"])
    run.refresh_from_db()
    return run


def run_start(*, run: ExtractionRun) -> ExtractionRun:
    """Pending or failed (resume) -> running."""
    return run_transition(run=run, to=RunStatus.RUNNING)


def run_cancel(*, run: ExtractionRun) -> ExtractionRun:
    return run_transition(run=run, to=RunStatus.CANCELLED)


UNFINISHED = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED)


def run_find_resumable(
    *,
    dataset: str,
    prompt_set: str,
    features: Sequence[str] | None,
    options: dict[str, Any],
    provider: str | None = None,
    finished: bool = False,
) -> ExtractionRun | None:
    """The latest run with the same dataset, prompt set and options (and provider, when given).

    By default an unfinished run (pending, running or failed), so a rerun resumes it; its features
    are the asked ones, plus the filter a gated run adds by itself. With ``finished`` a succeeded
    run among the last five that covers the asked features and has nothing pending (no conversation
    was added since), so a rerun has nothing to do.
    """
    runs = ExtractionRun.objects.filter(
        dataset__name=dataset,
        prompt_set=prompt_set,
        status__in=[RunStatus.SUCCEEDED] if finished else UNFINISHED,
    ).order_by("-pk")
    if provider is not None:
        runs = runs.filter(provider=provider)
    for run in runs[:5] if finished else runs:
        has = set(run.options.get("features", []))
        if not all(run.options.get(k) == v for k, v in options.items()):
            continue
        if finished and (not features or set(features) <= has):
            return run if selectors.run_progress(run=run).pending == 0 else None
        if not finished and (not features or set(features) <= has <= {*features, FeatureName.SUBJECTIVITY}):
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


def run_incomplete_conversation_ids(*, run: ExtractionRun) -> list[int]:
    """Conversations with at least one item still to do (or whose filter answer is not known yet)."""
    return list(selectors.run_pending(run=run))
