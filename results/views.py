"""Pages of the results app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import analyst_required
from results.selectors import residual_analysis_list, residual_cells, residual_strongest

TOP_SHOWN = 50


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
    }
    return render(request, "results/residual_detail.html", context)
