"""Writes of the extraction app, by concern; the public services are importable from here.

* ``runs``: create a run, move it between statuses, find one to resume, recount its progress.
* ``providers``: the LLM provider of a run, the settings check, the API token counter, free-form text completions.
* ``execute``: one conversation of a run (plan, requests, gating) and storing the answers.
* ``batch``: batch runs through the Message Batches API, safe to resume after a crash.
* ``launch``: ``run_launch``, the one place that starts a run inline, on the workers or as batches.
"""

from extraction.services.batch import (
    BatchStep,
    batch_collect,
    batch_resolve_submitting,
    run_batch_execute,
    run_batch_step,
)
from extraction.services.execute import (
    ConversationOutcome,
    RunPlan,
    Unit,
    conversation_extract,
    custom_id_for,
    run_plan,
    unit_calls,
    unit_store,
)
from extraction.services.launch import Launch, run_execute, run_launch, run_queue, run_start_once
from extraction.services.providers import namer_complete, provider_check, provider_for, text_complete, token_counter
from extraction.services.runs import (
    DONE_STATUSES,
    PROVIDERS,
    InvalidTransitionError,
    Progress,
    RunError,
    run_cancel,
    run_create,
    run_find_resumable,
    run_incomplete_conversation_ids,
    run_refresh_progress,
    run_start,
    run_transition,
)

__all__ = [
    "DONE_STATUSES",
    "PROVIDERS",
    "BatchStep",
    "ConversationOutcome",
    "InvalidTransitionError",
    "Launch",
    "Progress",
    "RunError",
    "RunPlan",
    "Unit",
    "batch_collect",
    "batch_resolve_submitting",
    "conversation_extract",
    "custom_id_for",
    "namer_complete",
    "provider_check",
    "provider_for",
    "run_batch_execute",
    "run_batch_step",
    "run_cancel",
    "run_create",
    "run_execute",
    "run_find_resumable",
    "run_incomplete_conversation_ids",
    "run_launch",
    "run_plan",
    "run_queue",
    "run_refresh_progress",
    "run_start",
    "run_start_once",
    "run_transition",
    "text_complete",
    "token_counter",
    "unit_calls",
    "unit_store",
]
