"""Forms of the taxonomy page: a lead reviews a version by renaming, merging and moving clusters.

Clusters are offered in a list; a node to move (often a value, of which a paper-scale taxonomy has thousands) is typed
by its name, so the page does not carry every value of the taxonomy three times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from taxonomy.models import Taxonomy, TaxonomyNode


class EditForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, taxonomy: Taxonomy, clusters: Sequence[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.action_name}_%s")  # three forms on one page: ids stay unique
        super().__init__(*args, **kwargs)
        self.taxonomy = taxonomy
        self.fields["action"].initial = self.action_name
        for field in self.fields.values():
            if isinstance(field, forms.TypedChoiceField):
                field.choices = list(clusters)

    action_name = ""

    def cluster(self, field: str) -> TaxonomyNode:
        return TaxonomyNode.objects.get(taxonomy=self.taxonomy, pk=self.cleaned_data[field])


class ClusterSelect(forms.Select):
    """A ``<select>`` written in one pass: Django's widget renders a template per option, and the forms of a
    published taxonomy offer its 297 clusters four times (about 200 ms a page)."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        chosen = set(self.format_value(value))
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, " selected" if str(key) in chosen else "", label) for key, label in self.choices),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), options
        )


def _cluster_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(label=label, coerce=int, widget=ClusterSelect)


class RenameForm(EditForm):
    action_name = "rename"
    node = _cluster_field("cluster")
    name = forms.CharField(label="new name", max_length=500)


class MergeForm(EditForm):
    action_name = "merge"
    node = _cluster_field("merge cluster")
    into = _cluster_field("into (same level)")


class MoveForm(EditForm):
    action_name = "move"
    node_name = forms.CharField(label="value or cluster (its name)", max_length=500)
    new_parent = _cluster_field("under (one level up)")

    def clean_node_name(self) -> str:
        name = " ".join(str(self.cleaned_data["node_name"]).split())
        found = list(TaxonomyNode.objects.filter(taxonomy=self.taxonomy, name=name).order_by("level")[:3])
        if not found:
            raise forms.ValidationError(f"no value or cluster of this taxonomy is called {name!r}")
        if len(found) > 1:
            levels = ", ".join(str(n.level) for n in found)
            raise forms.ValidationError(f"several nodes are called {name!r} (levels {levels}); rename one first")
        self.node = found[0]
        return name


EDIT_FORMS: dict[str, type[EditForm]] = {f.action_name: f for f in (RenameForm, MergeForm, MoveForm)}
