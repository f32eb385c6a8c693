"""Adjudication pages for leads: the outputs reviewers disagree on or flagged, and one output settled.

The list reads the review loop (annotate) for one extraction run; the detail page shows the transcript
(corpus), the model's output and reasoning (extraction) and every review side by side, and records the
lead's verdict through ``annotate.services.adjudication_record``. Leads only: a reviewer must not see the
others' reviews, and a prompt engineer does not settle what counts as correct.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, role_required
from annotate import selectors as annotate_selectors
from annotate.models import Adjudication, FlagRule
from annotate.services import AdjudicationError, adjudication_record
from corpus.transcript import SPEAKERS
from extraction.models import Extraction, ExtractionRun
from workbench.views import PAGE_SIZE, CountedPaginator

lead_required = role_required(Role.LEAD)


def _run_from(request: HttpRequest) -> ExtractionRun | None:
    run_param = request.GET.get("run", "")
    if run_param.isdigit():
        return get_object_or_404(ExtractionRun, pk=int(run_param))
    return None


@lead_required
def adjudication_list(request: HttpRequest) -> HttpResponse:
    run = _run_from(request)
    run_id = run.pk if run else None
    listed, open_count = annotate_selectors.adjudication_counts(run_id=run_id)
    # Thousands of outputs at the paper's scale: the database orders and slices the list, the page sums up its own.
    paginator = CountedPaginator(
        annotate_selectors.adjudication_outputs(run_id=run_id).values_list("pk", flat=True),
        PAGE_SIZE,
        count=lambda: listed,
    )
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "run": run,
        "runs": ExtractionRun.objects.filter(review_samples__isnull=False).distinct().order_by("-pk"),
        "page": page,
        "queue": annotate_selectors.adjudication_entries(extraction_ids=list(page.object_list), run_id=run_id),
        "listed": listed,
        "open_count": open_count,
        "flags": [(FlagRule(rule).label, n) for rule, n in annotate_selectors.flag_counts(run_id=run_id).items()],
    }
    return render(request, "workbench/adjudication_list.html", context)


def _next_open(extraction: Extraction) -> str:
    """The next output of the same run that still waits for the lead, else the run's list."""
    following = annotate_selectors.adjudication_next_open(run_id=extraction.run_id, after=extraction.pk)
    if following is not None:
        return reverse("adjudication-page", args=[following])
    suffix = f"?run={extraction.run_id}" if extraction.run_id else ""
    return reverse("adjudication-list-page") + suffix


def _form_values(request: HttpRequest) -> dict[str, Any]:
    level = request.POST.get("level", "")
    labels_text = request.POST.get("labels", "")
    return {
        "verdict": request.POST.get("verdict", ""),
        "labels": [line.strip() for line in labels_text.replace(",", "\n").splitlines() if line.strip()],
        "level": int(level) if level.isdigit() else None,
        "comment": request.POST.get("comment", ""),
    }


@lead_required
@require_http_methods(["GET", "POST"])
def adjudication_page(request: HttpRequest, extraction_id: int) -> HttpResponse:
    extraction = get_object_or_404(
        Extraction.objects.select_related("conversation", "prompt_version"), pk=extraction_id
    )
    error = None
    if request.method == "POST":
        values = _form_values(request)
        try:
            adjudication_record(extraction_id=extraction.pk, user=request.user, **values)
        except AdjudicationError as exc:
            error = str(exc)
        else:
            messages.success(request, f"{extraction.conversation.external_id} / {extraction.feature}: settled.")
            return redirect(_next_open(extraction))
    reviews = annotate_selectors.output_reviews(extraction_id=extraction.pk)
    decided = Adjudication.objects.filter(extraction=extraction).select_related("decided_by").first()
    conversation = extraction.conversation
    context = {
        "extraction": extraction,
        "conversation": conversation,
        "turns": [{"speaker": SPEAKERS.get(m["role"], m["role"]), **m} for m in conversation.messages],
        "reviews": reviews,
        "adjudication": decided,
        "error": error,
        "levels": [1, 2, 3, 4],
        "is_subjectivity": extraction.feature == "subjectivity",
        "prefill": "\n".join((decided.labels if decided and decided.labels is not None else extraction.labels) or []),
        "list_url": reverse("adjudication-list-page") + (f"?run={extraction.run_id}" if extraction.run_id else ""),
    }
    return render(request, "workbench/adjudication_detail.html", context, status=400 if error else 200)
