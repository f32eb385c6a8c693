"""Pages of the taxonomy app: the list, one taxonomy with its tree and history, and the lead's review edits."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import ANY_ROLE, Role, role_required, user_has_role
from taxonomy.figures import taxonomy_figure
from taxonomy.forms import EDIT_FORMS, EditForm, MoveForm
from taxonomy.models import Taxonomy, TaxonomyNode
from taxonomy.selectors import taxonomy_edit_log, taxonomy_list, taxonomy_summary, taxonomy_tree, taxonomy_unmapped
from taxonomy.services import taxonomy_node_merge, taxonomy_node_move, taxonomy_node_rename
from taxonomy.values import TaxonomyError


@role_required(*ANY_ROLE)
def taxonomy_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "taxonomy/taxonomy_list.html", {"taxonomies": taxonomy_list()})


def _clusters(taxonomy: Taxonomy) -> list[tuple[int, str]]:
    rows = TaxonomyNode.objects.filter(taxonomy=taxonomy, level__gte=1).order_by("-level", "name")
    return [(pk, f"{name} (level {level})") for pk, name, level in rows.values_list("pk", "name", "level")]


def _detail_context(request: HttpRequest, taxonomy: Taxonomy, bound: EditForm | None = None) -> dict[str, Any]:
    tree = taxonomy_tree(taxonomy=taxonomy)
    context: dict[str, Any] = {
        "taxonomy": taxonomy,
        "summary": taxonomy_summary(taxonomy=taxonomy),
        "tree": tree,
        "chart": taxonomy_figure(tree),
        "edits": taxonomy_edit_log(taxonomy=taxonomy),
        "unmapped": taxonomy_unmapped(taxonomy=taxonomy)[:200],
        "edit_forms": [],
    }
    if user_has_role(request.user, Role.LEAD):
        clusters = _clusters(taxonomy)
        context["edit_forms"] = [
            bound if bound is not None and bound.action_name == name else form(taxonomy=taxonomy, clusters=clusters)
            for name, form in EDIT_FORMS.items()
        ]
    return context


@role_required(*ANY_ROLE)
def taxonomy_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    taxonomy = get_object_or_404(Taxonomy, pk=pk)
    return render(request, "taxonomy/taxonomy_detail.html", _detail_context(request, taxonomy))


def _apply(form: EditForm, user: Any) -> None:
    """The edit the valid ``form`` asks for, through the same services as the API (each logs itself)."""
    data = form.cleaned_data
    if isinstance(form, MoveForm):
        taxonomy_node_move(node=form.node, new_parent=form.cluster("new_parent"), user=user)
    elif form.action_name == "merge":
        taxonomy_node_merge(source=form.cluster("node"), target=form.cluster("into"), user=user)
    else:
        taxonomy_node_rename(node=form.cluster("node"), name=data["name"], user=user)


@role_required(Role.LEAD)
@require_POST
def taxonomy_edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename, merge or move (``action``); back to the taxonomy's history, or the page again with the error (400)."""
    taxonomy = get_object_or_404(Taxonomy, pk=pk)
    form_class = EDIT_FORMS.get(request.POST.get("action", ""), EDIT_FORMS["rename"])
    form = form_class(request.POST, taxonomy=taxonomy, clusters=_clusters(taxonomy))
    if form.is_valid():
        try:
            _apply(form, request.user)
        except TaxonomyError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(reverse("taxonomy-detail-page", args=[taxonomy.pk]) + "#history")
    context = _detail_context(request, taxonomy, bound=form)
    return render(request, "taxonomy/taxonomy_detail.html", context, status=400)
