"""Pages of the results app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import analyst_required
from results.figures import residual_figure
from results.selectors import residual_analysis_list, residual_cells, residual_strongest

TOP_SHOWN = 50
# The strongest positive cells read for the chart: enough for every panel's bars, few enough to stay fast when
# thousands of cells are significant (the paper's 3,307 values x 1,000+ tasks).
CHART_CELLS = 2000
CELL_FIELDS = ("row_label", "col_label", "residual", "significant", "observed", "expected")


@analyst_required
def residual_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "results/residual_list.html", {"analyses": residual_analysis_list()[:200]})


@analyst_required
def residual_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = get_object_or_404(residual_analysis_list(), pk=pk)
    context = {
        "analysis": analysis,
        "s": analysis.summary,
        "significant": residual_cells(analysis=analysis, significant=True)[:TOP_SHOWN],
        "positive": residual_strongest(analysis=analysis, limit=TOP_SHOWN),
        "negative": residual_strongest(analysis=analysis, negative=True, limit=TOP_SHOWN),
        "top_shown": TOP_SHOWN,
        "chart": residual_figure(
            list(residual_cells(analysis=analysis).filter(residual__gt=0).values(*CELL_FIELDS)[:CHART_CELLS]),
            critical=analysis.critical_value,
            row_feature=analysis.row_feature,
            col_feature=analysis.col_feature,
        ),
    }
    return render(request, "results/residual_detail.html", context)
