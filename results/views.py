"""Pages of the results app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import Role, user_has_role
from results.figures import residual_figure
from results.selectors import residual_analysis_list, residual_cells, residual_strongest

TOP_SHOWN = 50
# The strongest positive cells read for the chart: enough for every panel's bars, few enough to stay fast when
# thousands of cells are significant (the paper's 3,307 values x 1,000+ tasks).
CHART_CELLS = 2000
CELL_FIELDS = ("row_label", "col_label", "residual", "significant", "observed", "expected")


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
        "chart": residual_figure(
            list(residual_cells(analysis=analysis).filter(residual__gt=0).values(*CELL_FIELDS)[:CHART_CELLS]),
            critical=analysis.critical_value,
            row_feature=analysis.row_feature,
            col_feature=analysis.col_feature,
        ),
    }
    return render(request, "results/residual_detail.html", context)
