"""Pages for leads: a run's trust verdict per feature first, with its charts; the agreement snapshots over time and
the dense tables below; a button to take a snapshot; a form for leads to set the targets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Role, analyst_required, role_required, user_has_role
from extraction.models import ExtractionRun
from stats.errors import StatsInputError
from validation import figures
from validation.designs import page_sections
from validation.forms import PROJECT, TrustTargetForm
from validation.selectors import agreement_by_prompt_version, run_verdicts, snapshot_list
from validation.services import agreement_snapshot_create, trust_target_set
from validation.trust import reliability_notes

HISTORY = 50


def _history_row(snapshot: Any) -> dict[str, Any]:
    features = {r["feature"]: r for r in snapshot.payload.get("agreement", {}).get("feature", [])}
    return {"snapshot": snapshot, "features": features}


def _report_context(request: HttpRequest, run: ExtractionRun, **extra: Any) -> dict[str, Any]:
    snapshots = list(snapshot_list(kind="agreement", run_id=run.pk)[:HISTORY])
    wanted = request.GET.get("snapshot", "")
    chosen = next((s for s in snapshots if str(s.pk) == wanted), snapshots[0] if snapshots else None)
    report = chosen.payload if chosen else None
    verdicts = run_verdicts(run=run, payload=report)
    features = [v.feature for v in verdicts]
    stamp = "%m-%d %H:%M"
    if len({s.created_at.strftime(stamp) for s in snapshots}) < len(snapshots):
        stamp += ":%S"  # snapshots taken within a minute must still be told apart
    oldest_first = [
        (s.created_at.strftime(stamp), s.payload.get("agreement", {}).get("feature", [])) for s in reversed(snapshots)
    ]
    reliability = (report or {}).get("reliability", {})
    charts = [
        figures.agreement_chart(verdicts),
        figures.trend_over_snapshots(oldest_first),
        figures.by_prompt_version(agreement_by_prompt_version(dataset_id=run.dataset_id)),
        figures.confusion_chart((report or {}).get("response_type_confusion")),
        figures.reviewer_matrix(reliability),
    ]
    return {
        "run": run,
        "error": None,
        "chosen": chosen,
        "report": report,
        "verdicts": verdicts,
        "charts": charts,
        "reliability": [(f, entry, reliability_notes(entry)) for f, entry in reliability.items()],
        "designs": page_sections((report or {}).get("design") or []),
        "features": sorted({f for s in snapshots for f in _history_row(s)["features"]}),
        "history": [_history_row(s) for s in snapshots],
        "is_lead": user_has_role(request.user, Role.LEAD),
        "target_form": TrustTargetForm(features=features),
        **extra,
    }


@analyst_required
@require_http_methods(["GET", "POST"])
def run_report(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(ExtractionRun.objects.select_related("dataset"), pk=run_id)
    error = None
    if request.method == "POST":
        try:
            snap = agreement_snapshot_create(run_id=run.pk, user=request.user)
        except StatsInputError as exc:
            error = str(exc)
        else:
            return redirect(f"{reverse('validation-run-page', args=[run.pk])}?snapshot={snap.pk}")
    return render(request, "validation/run_report.html", _report_context(request, run, error=error))


@role_required(Role.LEAD)
@require_POST
def trust_target_page(request: HttpRequest, run_id: int) -> HttpResponse:
    """Set one feature's target, for this run or as the project default; back to the trust page."""
    run = get_object_or_404(ExtractionRun.objects.select_related("dataset"), pk=run_id)
    context = _report_context(request, run)
    form = TrustTargetForm(request.POST, features=[v.feature for v in context["verdicts"]])
    if not form.is_valid():
        context["target_form"] = form
        return render(request, "validation/run_report.html", context, status=400)
    data = form.cleaned_data
    trust_target_set(
        feature=data["feature"],
        run_id=None if data["scope"] == PROJECT else run.pk,
        share=data["share_pct"] / 100,
        half_width=data["half_width_pct"] / 100,
        user=request.user,
    )
    return redirect(reverse("validation-run-page", args=[run.pk]) + "#verdict")
