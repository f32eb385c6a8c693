"""Pages of the taxonomy app."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.roles import ANY_ROLE, role_required
from taxonomy.figures import taxonomy_figure
from taxonomy.models import Taxonomy
from taxonomy.selectors import taxonomy_edit_log, taxonomy_list, taxonomy_summary, taxonomy_tree, taxonomy_unmapped


@role_required(*ANY_ROLE)
def taxonomy_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "taxonomy/taxonomy_list.html", {"taxonomies": taxonomy_list()})


@role_required(*ANY_ROLE)
def taxonomy_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    taxonomy = get_object_or_404(Taxonomy, pk=pk)
    tree = taxonomy_tree(taxonomy=taxonomy)
    context = {
        "taxonomy": taxonomy,
        "summary": taxonomy_summary(taxonomy=taxonomy),
        "tree": tree,
        "chart": taxonomy_figure(tree),
        "edits": taxonomy_edit_log(taxonomy=taxonomy),
        "unmapped": taxonomy_unmapped(taxonomy=taxonomy)[:200],
    }
    return render(request, "taxonomy/taxonomy_detail.html", context)
