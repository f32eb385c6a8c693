"""Pages of the taxonomy app: the list, one taxonomy with its tree and history, and the lead's review edits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from accounts.roles import ANY_ROLE, Role, role_required, user_has_role
from corpus.cache import cached_report
from taxonomy.figures import taxonomy_figure
from taxonomy.forms import EDIT_FORMS, EditForm, MoveForm
from taxonomy.models import Taxonomy, TaxonomyNode
from taxonomy.selectors import (
    taxonomy_data_version,
    taxonomy_edit_log,
    taxonomy_list,
    taxonomy_summary,
    taxonomy_tree,
    taxonomy_unmapped,
)
from taxonomy.services import taxonomy_node_merge, taxonomy_node_move, taxonomy_node_rename
from taxonomy.values import TaxonomyError

UNMAPPED_SHOWN = 200


@role_required(*ANY_ROLE)
def taxonomy_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "taxonomy/taxonomy_list.html", {"taxonomies": taxonomy_list()})


def _clusters(taxonomy: Taxonomy) -> list[tuple[int, str]]:
    rows = TaxonomyNode.objects.filter(taxonomy=taxonomy, level__gte=1).order_by("-level", "name")
    return [(pk, f"{name} (level {level})") for pk, name, level in rows.values_list("pk", "name", "level")]


# The tree is written in Python: a published taxonomy has 3,600 nodes, and a recursive template include cost a
# tenth of a millisecond or more per node where format_html costs a few microseconds.
_FALLBACK = mark_safe(' <span class="muted">(fallback name)</span>')


def _tree_html(tree: Sequence[Mapping[str, Any]]) -> SafeString:
    """``tree`` (nested nodes, as ``taxonomy.selectors.taxonomy_tree`` gives them) as closed ``<details>``, one per
    cluster: its name, the values beneath it and its share, its description, then its children (a level-1
    cluster's values as one comma-separated line)."""
    return _join(_node(node) for node in tree)


def _join(parts: Iterable[SafeString]) -> SafeString:
    return mark_safe("".join(parts))  # every part comes from format_html, which escapes what it is given


def _node(node: Mapping[str, Any]) -> SafeString:
    size = int(node["size"] or 0)
    pct = node.get("pct_total_occurrences")
    summary = format_html(
        '<summary><strong>{}</strong>{} <span class="muted">— {} value{}{}</span></summary>',
        node["name"],
        _FALLBACK if node.get("name_is_fallback") else "",
        size,
        "" if size == 1 else "s",
        "" if pct is None else f", {pct}% of occurrences",
    )
    description = node.get("description")
    about = format_html('<p class="muted">{}</p>', linebreaksbr(description)) if description else ""
    children = node.get("children", [])
    if node["level"] == 1:
        inner = format_html("<p>{}</p>", ", ".join(str(child["name"]) for child in children))
    else:
        inner = format_html('<div class="tree-children">{}</div>', _join(_node(child) for child in children))
    return format_html("<details>{}{}{}</details>", summary, about, inner)


def _tree_and_figure(taxonomy: Taxonomy) -> tuple[SafeString, SafeString]:
    """The tree and its chart (with its numbers and CSV) as HTML, written once per version of the taxonomies: every
    edit is a new version."""

    def draw() -> tuple[SafeString, SafeString]:
        tree = taxonomy_tree(taxonomy=taxonomy)
        figure = render_to_string("charts/_figure.html", {"chart": taxonomy_figure(tree)})
        return _tree_html(tree), mark_safe(figure)  # a rendered template: escaped where it had to be

    return cached_report(name=f"taxonomy-tree-{taxonomy.pk}", version=taxonomy_data_version(), compute=draw)


def _detail_context(request: HttpRequest, taxonomy: Taxonomy, bound: EditForm | None = None) -> dict[str, Any]:
    tree, figure = _tree_and_figure(taxonomy)
    context: dict[str, Any] = {
        "taxonomy": taxonomy,
        "summary": taxonomy_summary(taxonomy=taxonomy),
        "tree": tree,
        "figure": figure,
        "edits": taxonomy_edit_log(taxonomy=taxonomy),
        "unmapped": taxonomy_unmapped(taxonomy=taxonomy, limit=UNMAPPED_SHOWN),
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
