"""Pages of the prompt engineer's loop: estimate and start a run of a prompt set, and watch its progress.

A run is created and started by the same services as the API and the ``extract`` command (``run_create``, then
``run_launch``, which chooses queue or batch). A candidate run from recorded responses replays the base set's
recordings where the candidate has none of its own, and says so.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import analyst_required
from corpus.models import Conversation, Dataset
from corpus.selectors import dataset_list_counted
from extraction.costs import UnknownModelPriceError
from extraction.estimates import prompt_set_cost_estimate
from extraction.llm_types import LLMUnavailableError
from extraction.models import ExtractionRun, RunStatus
from extraction.prompts import PromptFileError, PromptSet, load_prompt_set
from extraction.replay import MissingRecordingError
from extraction.services import RunError, provider_check, run_create, run_launch, token_counter
from extraction.services.reports import run_costs_cached, run_progress_cached
from validation.models import GoldLabel, GoldSet
from validation.selectors import gold_set_list
from workbench.prompts import prompt_set_or_404

#: How a run is sent: (provider, batch) for each choice of the form.
HOW = {
    "replay": ("replay", False, "recorded responses (no key needed)"),
    "live": ("anthropic", False, "live API, one request at a time"),
    "batch": ("anthropic", True, "Message Batches API (half price, within 24 h)"),
}
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


def _scope(request: HttpRequest) -> tuple[Dataset | None, int | None, GoldSet | None]:
    """The dataset, limit and gold set the form names; the first dataset by default. With a gold set, its
    dataset, and the run covers exactly the gold set's conversations (``_gold_conversation_ids``)."""
    params = request.POST if request.method == "POST" else request.GET
    gold = params.get("gold", "")
    gold_set = GoldSet.objects.select_related("dataset").filter(pk=int(gold)).first() if gold.isdigit() else None
    if gold_set is not None:
        return gold_set.dataset, None, gold_set
    name = params.get("dataset", "")
    dataset = Dataset.objects.filter(name=name).first() if name else Dataset.objects.order_by("name").first()
    limit_param = params.get("limit", "")
    return dataset, int(limit_param) if limit_param.isdigit() and int(limit_param) > 0 else None, None


def _gold_conversation_ids(gold_set: GoldSet) -> list[int]:
    return sorted(set(GoldLabel.objects.filter(gold_set=gold_set).values_list("conversation_id", flat=True)))


@analyst_required
def prompt_run_new(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the cost estimate on the chosen conversations and the form; POST: create the run and start it."""
    pset = prompt_set_or_404(name)
    dataset, limit, gold_set = _scope(request)
    how = request.POST.get("how") or request.GET.get("how") or "replay"
    error = ""
    estimate = None
    gold_ids = _gold_conversation_ids(gold_set) if gold_set is not None else None
    if dataset is not None:
        conversations = Conversation.objects.filter(dataset=dataset).order_by("pk")
        if gold_ids is not None:
            conversations = conversations.filter(pk__in=gold_ids)
        try:
            estimate = prompt_set_cost_estimate(
                prompt_set=pset,
                conversations=conversations[:limit] if limit else conversations,
                count_tokens=token_counter() if request.method == "GET" else None,
            )
        except UnknownModelPriceError as exc:
            error = f"{exc}; add it to LLM_PRICES"
    if request.method == "POST" and dataset is not None and how in HOW and not error:
        provider, batch, _ = HOW[how]
        run: ExtractionRun | None = None
        try:
            provider_check(provider=provider)
            with transaction.atomic():
                run = run_create(
                    dataset=dataset.name,
                    prompt_set=pset.name,
                    provider=provider,
                    batch=batch,
                    limit=limit,
                    conversation_ids=gold_ids,
                    all_conversations=_unfiltered(pset) or request.POST.get("all_conversations") == "on",
                    created_by=request.user,
                )
                run_launch(run=run, where="queue")
        except RunError as exc:
            error, run = str(exc), None  # nothing was kept: the run is created and started in one transaction
        except (MissingRecordingError, LLMUnavailableError):
            pass  # without a broker the tasks ran in this request; the run recorded the failure and shows it
        if run is not None:
            return redirect("prompt-run-page", pk=run.pk)
    context = {
        "pset": pset,
        "datasets": dataset_list_counted(),
        "gold_sets": gold_set_list(),
        "gold_set": gold_set,
        "gold_size": len(gold_ids or ()),
        "dataset": dataset,
        "limit": limit,
        "how": how,
        "choices": [(key, label) for key, (_, _, label) in HOW.items()],
        "estimate": estimate,
        "unfiltered": _unfiltered(pset),
        "error": error,
    }
    return render(request, "workbench/prompts/run_new.html", context, status=400 if error else 200)


def _unfiltered(pset: PromptSet) -> bool:
    """A set without a subjectivity prompt (nor a fused one) has no filter to gate on: it runs on every conversation."""
    return not pset.fused and "subjectivity" not in pset.prompts


def run_status(run: ExtractionRun) -> dict[str, Any]:
    """What the progress page shows and polls: status, counts, percent, error (recounted live while the run may
    be writing, once per version of its rows after)."""
    progress = run_progress_cached(run=run)
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "finished": run.status in FINISHED,
        "total": progress.total,
        "done": progress.done,
        "failed": progress.failed,
        "percent": round(100 * (progress.done + progress.failed) / progress.total, 1) if progress.total else 0.0,
        "error": run.error,
    }


@analyst_required
def prompt_run_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ExtractionRun.objects.select_related("dataset"), pk=pk)
    context = {
        "run": run,
        "status": run_status(run),
        "replay_base": (run.options or {}).get("replay_base"),
        "costs": run_costs_cached(run=run),
        "compare_with": _base_of(run.prompt_set),
    }
    return render(request, "workbench/prompts/run.html", context)


def _base_of(name: str) -> str:
    """The set a candidate was made from ("" for a file set or one that no longer loads)."""
    try:
        return load_prompt_set(name).base
    except PromptFileError:
        return ""


@analyst_required
def prompt_run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(ExtractionRun, pk=pk)
    return JsonResponse(run_status(run))
