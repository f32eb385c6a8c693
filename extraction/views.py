"""Pages of the extraction app: a run's status, progress, per-feature counts, cost, and what failed and why."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import analyst_required
from charts import bar_chart
from extraction.models import FUSED, ExtractionRun
from extraction.services.reports import RUN_PAGE_FAILURES, run_report_cached

FAILURES_SHOWN = RUN_PAGE_FAILURES


@analyst_required
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(ExtractionRun.objects.select_related("dataset"), pk=run_id)
    # Summed over every row of the run (millions at the paper's scale): once per version of the run's rows.
    report, feature_counts = run_report_cached(run=run)
    # Shared out: a fused call's cost split among the features it produced, not booked on one of them.
    by_feature = report["costs"]["by_feature_shared"]
    cost_chart = bar_chart(
        [(feature, float(figures["cost_usd"])) for feature, figures in by_feature.items()],
        slug="cost-per-feature",
        title="Cost per feature (USD), multi-feature calls shared out",
        label_title="feature",
        value_title="cost (USD)",
    )
    context = {
        "run": run,
        "report": report,
        "cost_chart": cost_chart,
        "fused": FUSED in (run.options or {}).get("prompt_versions", {}),
        "feature_counts": feature_counts,
        "failures_shown": FAILURES_SHOWN,
    }
    return render(request, "extraction/run.html", context)
