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
from corpus.selectors import dataset_list
from extraction import selectors
from extraction.costs import UnknownModelPriceError
from extraction.estimates import prompt_set_cost_estimate
from extraction.llm_types import LLMUnavailableError
from extraction.models import ExtractionRun, RunStatus
from extraction.replay import MissingRecordingError
from extraction.services import RunError, provider_check, run_create, run_launch
from workbench.prompts import prompt_set_or_404

#: How a run is sent: (provider, batch) for each choice of the form.
HOW = {
    "replay": ("replay", False, "recorded responses (no key needed)"),
    "live": ("anthropic", False, "live API, one request at a time"),
    "batch": ("anthropic", True, "Message Batches API (half price, within 24 h)"),
}
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


def _scope(request: HttpRequest) -> tuple[Dataset | None, int | None]:
    """The dataset (and limit) the form names; the first dataset by default."""
    params = request.POST if request.method == "POST" else request.GET
    name = params.get("dataset", "")
    dataset = Dataset.objects.filter(name=name).first() if name else Dataset.objects.order_by("name").first()
    limit = params.get("limit", "")
    return dataset, int(limit) if limit.isdigit() and int(limit) > 0 else None


@analyst_required
def prompt_run_new(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the cost estimate on the chosen conversations and the form; POST: create the run and start it."""
    pset = prompt_set_or_404(name)
    dataset, limit = _scope(request)
    how = request.POST.get("how") or request.GET.get("how") or "replay"
    error = ""
    estimate = None
    if dataset is not None:
        conversations = Conversation.objects.filter(dataset=dataset).order_by("pk")
        try:
            estimate = prompt_set_cost_estimate(
                prompt_set=pset, conversations=conversations[:limit] if limit else conversations
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
        "datasets": dataset_list(),
        "dataset": dataset,
        "limit": limit,
        "how": how,
        "choices": [(key, label) for key, (_, _, label) in HOW.items()],
        "estimate": estimate,
        "error": error,
    }
    return render(request, "workbench/prompts/run_new.html", context, status=400 if error else 200)


def run_status(run: ExtractionRun) -> dict[str, Any]:
    """What the progress page shows and polls: status, counts, percent, error."""
    progress = selectors.run_progress(run=run)
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
        "costs": selectors.run_costs(run=run),
    }
    return render(request, "workbench/prompts/run.html", context)


@analyst_required
def prompt_run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(ExtractionRun, pk=pk)
    return JsonResponse(run_status(run))
