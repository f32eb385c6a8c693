"""Batch runs: submit what is pending as Message Batches, persist the batch ids, collect the results.

Every step is safe to repeat after a crash at any point (see ``run_batch_step``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from corpus.models import Conversation
from extraction import selectors
from extraction.llm import MessageBatches, requests_fingerprint
from extraction.llm_types import LLMCall, LLMResult, LLMUnavailableError
from extraction.models import BatchStatus, ExtractionBatch, ExtractionRun, RunStatus
from extraction.services.execute import RunPlan, run_plan, unit_calls, unit_store
from extraction.services.runs import Progress, run_refresh_progress, run_start, run_transition

logger = logging.getLogger(__name__)


MAX_BATCH_SUBMISSIONS = 2
# Requests per Message Batch we submit (the API takes up to 100,000 and 256 MB; our requests carry a
# ~13 kB shared prefix each, so 5,000 stays far below the size limit).
BATCH_CHUNK = 5_000
# A batch left "submitting" by a crash is looked for among the account's batches created since the
# row was written, less this margin for the difference between our clock and the API's.
BATCH_LIST_CLOCK_SKEW = timedelta(minutes=10)
# How many result custom_ids of a candidate batch are compared with the row's before adopting it.
BATCH_VERIFY_IDS = 50


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
    plan = run_plan(run=run)
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
            requests = unit_calls(run=run, conversation=conversation, unit=unit, plan=plan)
            # The samples of one item go in the same batch: they are stored together when it ends.
            if chunks[-1] and len(chunks[-1]) + len(requests) > BATCH_CHUNK:
                chunks.append([])
            for k, call in enumerate(requests):
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
        conversation = conversations[item["conversation"]]
        calls[custom_id] = unit_calls(run=run, conversation=conversation, unit=unit, plan=plan)[item["sample"]]
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
