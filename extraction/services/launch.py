"""Starting a run: in this process, on the Celery workers, or as Message Batches; one place decides which."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from kombu.exceptions import OperationalError as BrokerError

from extraction.llm_types import LLMProvider
from extraction.models import ExtractionRun, RunStatus
from extraction.replay import MissingRecordingError
from extraction.services.batch import BatchStep, run_batch_execute
from extraction.services.execute import ConversationOutcome, conversation_extract
from extraction.services.runs import (
    Progress,
    RunError,
    run_create,
    run_incomplete_conversation_ids,
    run_refresh_progress,
    run_start,
    run_transition,
)
from jobs.services import request_key


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


Where = Literal["inline", "queue"]


@dataclass(frozen=True)
class Launch:
    """How a run was started: ``mode`` is "batch" (Message Batches), "queue" (Celery) or "inline"."""

    mode: str
    queued: int = 0  # conversations queued ("queue"); 0 otherwise
    progress: Progress | None = None  # the progress at the end, when the run went on in this process


def run_launch(
    *,
    run: ExtractionRun,
    where: Where,
    on_step: Callable[[BatchStep], None] | None = None,
    on_conversation: Callable[[ConversationOutcome | None], None] | None = None,
) -> Launch:
    """Start (or resume) ``run``: the one place that chooses batch, queue or inline.

    A batch run (``options["batch"]``) goes to the Message Batches API: ``where="queue"`` hands the
    polling to the ``extraction.batch_step`` task (after commit), ``"inline"`` polls here until it
    is done. Any other run is queued as one task per conversation (``"queue"``) or extracted here,
    conversation after conversation (``"inline"``). The callbacks report the inline progress.
    """
    if run.options.get("batch"):
        if where == "queue":
            from extraction.tasks import extraction_batch_step

            run_start(run=run)
            transaction.on_commit(functools.partial(extraction_batch_step.delay, run.pk))  # type: ignore[attr-defined]
            return Launch(mode="batch")
        from extraction.llm import MessageBatches

        progress = run_batch_execute(
            run=run,
            batches=MessageBatches.from_settings(),
            poll_interval_s=settings.EXTRACTION_BATCH_POLL_S,
            on_step=on_step,
        )
        return Launch(mode="batch", progress=progress)
    if where == "queue":
        return Launch(mode="queue", queued=run_queue(run=run))
    return Launch(mode="inline", progress=run_execute(run=run, on_conversation=on_conversation))


#: A run in these statuses answers an identical request instead of a new run.
ACTIVE_RUN = (RunStatus.PENDING, RunStatus.RUNNING)
#: Attempts at creating the run or finding the identical one (which may finish between the insert and the read).
START_ATTEMPTS = 5


def run_start_once(*, created_by: Any, **options: Any) -> tuple[ExtractionRun, bool]:
    """Create and queue the run ``options`` describe (``run_create``'s keywords), unless an identical request's run
    is pending or running: then that run, not a second one. Returns ``(run, created)``.

    Identical means the same options after validation (features in any order). The database guarantees it: the run
    carries the request's key under a partial unique index over the active statuses, so of two requests racing, the
    second insert fails and is answered with the first's run."""
    normal = {**options, "features": sorted(options.get("features") or []), "models": options.get("models") or {}}
    key = request_key(kind="extraction_run", params=normal)
    for _ in range(START_ATTEMPTS):
        active = ExtractionRun.objects.filter(launch_key=key, status__in=ACTIVE_RUN).select_related("dataset").first()
        if active is not None:
            return active, False
        stored: ExtractionRun | None = None
        try:
            with transaction.atomic():
                run = stored = run_create(created_by=created_by, launch_key=key, **options)
                run_launch(run=run, where="queue")
        except IntegrityError:
            continue  # an identical request inserted its run first: answer with that one
        except (OSError, BrokerError) as exc:
            # The broker is down: the run was stored, but its tasks were not queued (they are queued after the
            # commit). It is marked failed, so the same request, once the broker is back, starts a run afresh
            # instead of being answered with one that nothing will ever work on.
            if stored is not None and ExtractionRun.objects.filter(pk=stored.pk).exists():
                run_transition(run=stored, to=RunStatus.FAILED, error=f"could not be queued: {exc}; start it again")
            raise
        except MissingRecordingError as exc:  # no broker: the run went on in this process, and stopped there
            raise RunError(
                f"run {run.pk} stopped: {exc}. `check_recordings` lists every missing recording; record them, or "
                "run with the anthropic provider"
            ) from exc
        return run, True
    raise RunError("could not start the run: identical requests kept colliding; try again")  # pragma: no cover
