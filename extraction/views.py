"""Pages of the extraction app: a run's status, progress, per-feature counts, cost, and what failed and why."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import Role, user_has_role
from extraction import selectors
from extraction.models import ExtractionRun

FAILURES_SHOWN = 200


@login_required
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    if not user_has_role(request.user, Role.LEAD, Role.PROMPT_ENGINEER):
        raise PermissionDenied("leads and prompt engineers only")
    run = get_object_or_404(ExtractionRun.objects.select_related("dataset"), pk=run_id)
    context = {
        "run": run,
        "report": selectors.run_report(run=run, failure_limit=FAILURES_SHOWN),
        "feature_counts": selectors.run_feature_counts(run=run),
        "failures_shown": FAILURES_SHOWN,
    }
    return render(request, "extraction/run.html", context)
