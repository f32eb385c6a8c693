"""Pages for leads: a run's agreement snapshots over time, the chosen one in full, and a button to take one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, user_has_role
from extraction.models import ExtractionRun
from stats.errors import StatsInputError
from validation.selectors import snapshot_list
from validation.services import agreement_snapshot_create


def _history_row(snapshot: Any) -> dict[str, Any]:
    features = {r["feature"]: r for r in snapshot.payload.get("agreement", {}).get("feature", [])}
    return {"snapshot": snapshot, "features": features}


@login_required
@require_http_methods(["GET", "POST"])
def run_report(request: HttpRequest, run_id: int) -> HttpResponse:
    if not user_has_role(request.user, Role.LEAD, Role.PROMPT_ENGINEER):
        raise PermissionDenied("leads and prompt engineers only")
    run = get_object_or_404(ExtractionRun, pk=run_id)
    error = None
    if request.method == "POST":
        try:
            snap = agreement_snapshot_create(run_id=run.pk, user=request.user)
        except StatsInputError as exc:
            error = str(exc)
        else:
            return redirect(f"{reverse('validation-run-page', args=[run.pk])}?snapshot={snap.pk}")
    snapshots = list(snapshot_list(kind="agreement", run_id=run.pk)[:50])
    wanted = request.GET.get("snapshot", "")
    chosen = next((s for s in snapshots if str(s.pk) == wanted), snapshots[0] if snapshots else None)
    features = sorted({f for s in snapshots for f in _history_row(s)["features"]})
    context = {
        "run": run,
        "error": error,
        "chosen": chosen,
        "report": chosen.payload if chosen else None,
        "features": features,
        "history": [_history_row(s) for s in snapshots],
    }
    return render(request, "validation/run_report.html", context)
