"""Pages of the results app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import Role, user_has_role
from results.selectors import residual_analysis_list, residual_cells, residual_strongest

TOP_SHOWN = 50


def _require_analyst(request: HttpRequest) -> None:
    # The same roles that may run an analysis and read the descriptive results over the API.
    if not user_has_role(request.user, Role.LEAD, Role.PROMPT_ENGINEER):
        raise PermissionDenied("leads and prompt engineers only")


@login_required
def residual_list_page(request: HttpRequest) -> HttpResponse:
    _require_analyst(request)
    return render(request, "results/residual_list.html", {"analyses": residual_analysis_list()[:200]})


@login_required
def residual_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    _require_analyst(request)
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
