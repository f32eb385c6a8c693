"""Pages of the taxonomy app."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from taxonomy.figures import taxonomy_figure
from taxonomy.models import Taxonomy
from taxonomy.selectors import taxonomy_edits, taxonomy_list, taxonomy_summary, taxonomy_tree, taxonomy_unmapped


@login_required
def taxonomy_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "taxonomy/taxonomy_list.html", {"taxonomies": taxonomy_list()})


@login_required
def taxonomy_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    taxonomy = get_object_or_404(Taxonomy, pk=pk)
    tree = taxonomy_tree(taxonomy=taxonomy)
    context = {
        "taxonomy": taxonomy,
        "summary": taxonomy_summary(taxonomy=taxonomy),
        "tree": tree,
        "chart": taxonomy_figure(tree),
        "edits": taxonomy_edits(taxonomy=taxonomy)[:50],
        "unmapped": taxonomy_unmapped(taxonomy=taxonomy)[:200],
    }
    return render(request, "taxonomy/taxonomy_detail.html", context)
