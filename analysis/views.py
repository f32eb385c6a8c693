"""Pages of the analysis app."""

from __future__ import annotations

# ==================================================================================================== taxonomy
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import Role, user_has_role
from analysis.models import Taxonomy
from analysis.selectors import (
    residual_analysis_list,
    residual_cells,
    residual_strongest,
    taxonomy_edits,
    taxonomy_list,
    taxonomy_summary,
    taxonomy_tree,
    taxonomy_unmapped,
)


@login_required
def taxonomy_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "analysis/taxonomy_list.html", {"taxonomies": taxonomy_list()})


@login_required
def taxonomy_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    taxonomy = get_object_or_404(Taxonomy, pk=pk)
    context = {
        "taxonomy": taxonomy,
        "summary": taxonomy_summary(taxonomy=taxonomy),
        "tree": taxonomy_tree(taxonomy=taxonomy),
        "edits": taxonomy_edits(taxonomy=taxonomy)[:50],
        "unmapped": taxonomy_unmapped(taxonomy=taxonomy)[:200],
    }
    return render(request, "analysis/taxonomy_detail.html", context)


# ================================================================================================ end taxonomy


# =========================================================================================== residuals & descriptive
TOP_SHOWN = 50


def _require_analyst(request: HttpRequest) -> None:
    # The same roles that may run an analysis and read the descriptive results over the API.
    if not user_has_role(request.user, Role.LEAD, Role.PROMPT_ENGINEER):
        raise PermissionDenied("leads and prompt engineers only")


@login_required
def residual_list_page(request: HttpRequest) -> HttpResponse:
    _require_analyst(request)
    return render(request, "analysis/residual_list.html", {"analyses": residual_analysis_list()[:200]})


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
    return render(request, "analysis/residual_detail.html", context)


# ======================================================================================= end residuals & descriptive
