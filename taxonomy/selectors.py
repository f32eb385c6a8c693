"""Reads of the taxonomy app."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Max, QuerySet

from extraction.models import Extraction, ExtractionStatus
from taxonomy.models import EditAction, MappingMethod, Taxonomy, TaxonomyEdit, TaxonomyNode, ValueMapping
from taxonomy.values import TaxonomyError, normalise_value, resolve_values


def taxonomy_list() -> QuerySet[Taxonomy]:
    return Taxonomy.objects.annotate(node_count=Count("nodes")).order_by("name", "-version")


def taxonomy_newest(*, feature: str) -> Taxonomy | None:
    """The newest taxonomy (last created) over ``feature``'s values, or None when there is none."""
    return Taxonomy.objects.filter(feature=feature).order_by("-created_at", "-id").first()


def taxonomy_data_version() -> tuple[int | None, ...]:
    """Changes whenever a taxonomy is built or imported, edited (every rename, merge and move is logged) or has
    values mapped onto it (mappings are replaced, never updated): for the key of a report that reads taxonomies."""
    return (
        Taxonomy.objects.aggregate(n=Max("pk"))["n"],
        TaxonomyEdit.objects.aggregate(n=Max("pk"))["n"],
        ValueMapping.objects.aggregate(n=Max("pk"))["n"],
    )


def taxonomy_level_counts(*, taxonomy: Taxonomy) -> dict[int, int]:
    """Number of nodes per level, level 0 (the values) first."""
    rows = TaxonomyNode.objects.filter(taxonomy=taxonomy).values("level").annotate(n=Count("id")).order_by("level")
    return {r["level"]: r["n"] for r in rows}


def taxonomy_nodes(
    *, taxonomy: Taxonomy, level: int | None = None, parent_id: int | None = None
) -> QuerySet[TaxonomyNode]:
    qs = TaxonomyNode.objects.filter(taxonomy=taxonomy)
    if level is not None:
        qs = qs.filter(level=level)
    if parent_id is not None:
        qs = qs.filter(parent_id=parent_id)
    return qs.order_by("-size", "name")


def taxonomy_edits(*, taxonomy: Taxonomy) -> QuerySet[TaxonomyEdit]:
    return TaxonomyEdit.objects.filter(taxonomy=taxonomy).select_related("user").order_by("-created_at", "-id")


def taxonomy_edit_log(*, taxonomy: Taxonomy, limit: int = 50) -> list[dict[str, Any]]:
    """The newest edits as rows that read on their own: what a node was called or where it sat, before and after.

    Each action keeps a different shape in ``before`` / ``after`` (a merge names a source and a target, a move a
    parent), so the page gets plain text rather than looking keys up that only some actions have.
    """
    edits = list(taxonomy_edits(taxonomy=taxonomy)[:limit])
    parent_ids = {e.before.get("parent_id") for e in edits} | {e.after.get("parent_id") for e in edits}
    names = dict(
        TaxonomyNode.objects.filter(taxonomy=taxonomy, pk__in=[p for p in parent_ids if p]).values_list("id", "name")
    )
    return [
        {
            "created_at": e.created_at,
            "user": e.user.username if e.user else "",
            "action": e.get_action_display(),
            "before": _edit_side(e.action, e.before, names, "source"),
            "after": _edit_side(e.action, e.after, names, "target"),
        }
        for e in edits
    ]


def _edit_side(action: str, side: dict[str, Any], names: dict[int, str], merge_key: str) -> str:
    if action == EditAction.MERGE:
        return str((side.get(merge_key) or {}).get("name", ""))
    name = str(side.get("name", ""))
    if action == EditAction.MOVE:
        parent = side.get("parent_id")
        return f"{name} under {names.get(parent, f'#{parent}')}" if parent else name
    return name


def taxonomy_unmapped(*, taxonomy: Taxonomy, limit: int | None = None) -> list[str]:
    """The values mapped onto nothing, alphabetically; the first ``limit`` of them when given."""
    values = (
        ValueMapping.objects.filter(taxonomy=taxonomy, method=MappingMethod.UNMAPPED)
        .order_by("value")
        .values_list("value", flat=True)
    )
    return list(values[:limit] if limit is not None else values)


def taxonomy_ancestor_names(*, taxonomy: Taxonomy, level: int) -> dict[str, str]:
    """value -> name of its ancestor at ``level`` (0 = the value itself as the taxonomy spells it).

    Keys are the taxonomy's own values and every value mapped onto it (see ``taxonomy_map_values``); unmapped
    values are absent. This is how analyses group extracted values at any taxonomy level.
    """
    rows = list(TaxonomyNode.objects.filter(taxonomy=taxonomy).values_list("id", "level", "name", "parent_id"))
    if not rows:
        raise TaxonomyError(f"taxonomy {taxonomy} has no nodes")
    top = max(r[1] for r in rows)
    if not 0 <= level <= top:
        raise TaxonomyError(f"taxonomy {taxonomy} has levels 0..{top}; level {level} does not exist")
    by_id = {r[0]: r for r in rows}
    ancestor: dict[int, str] = {}

    def resolve(node_id: int) -> str:
        found = ancestor.get(node_id)
        if found is None:
            _, lvl, name, parent = by_id[node_id]
            if lvl == level:
                found = name
            elif parent is None:
                raise TaxonomyError(f"node {name!r} at level {lvl} has no ancestor at level {level}")
            else:
                found = resolve(parent)
            ancestor[node_id] = found
        return found

    out = {name: resolve(nid) for nid, lvl, name, _ in rows if lvl == 0}
    for value, node_id in ValueMapping.objects.filter(taxonomy=taxonomy, node__isnull=False).values_list(
        "value", "node_id"
    ):
        out.setdefault(value, resolve(node_id))
    return out


def taxonomy_value_ancestors(
    *, taxonomy: Taxonomy, level: int | None, values: Iterable[str]
) -> tuple[dict[str, str], int]:
    """Each of ``values`` (labels as extracted) -> the name of its ancestor at ``level`` (None: the top level), by
    exact spelling then normalised spelling; and how many of ``values`` have no ancestor. Raises
    ``TaxonomyError`` when ``level`` does not exist; a taxonomy without nodes has no top level (nothing maps)."""
    if level is None:
        level = (
            TaxonomyNode.objects.filter(taxonomy=taxonomy).order_by("-level").values_list("level", flat=True).first()
        )
        if level is None:
            values = list(values)
            return {}, len(values)
    return resolve_values(values, taxonomy_ancestor_names(taxonomy=taxonomy, level=level))


def extracted_value_counts(*, feature: str = "ai_values", dataset_id: int | None = None) -> Counter[str]:
    """Conversations per distinct extracted value of ``feature`` (parsed extractions only), keyed by the most
    frequent spelling among those that normalise to the same label."""
    qs = Extraction.objects.filter(feature=feature, status=ExtractionStatus.OK)
    if dataset_id is not None:
        qs = qs.filter(conversation__dataset_id=dataset_id)
    per_key: dict[str, Counter[str]] = {}
    convs: dict[str, set[int]] = {}
    for conversation_id, labels in qs.values_list("conversation_id", "labels").iterator(chunk_size=5000):
        for label in labels or []:
            if not isinstance(label, str):
                continue
            key = normalise_value(label)
            if not key:
                continue
            per_key.setdefault(key, Counter())[label.strip()] += 1
            convs.setdefault(key, set()).add(conversation_id)
    return Counter({spellings.most_common(1)[0][0]: len(convs[key]) for key, spellings in per_key.items()})


def taxonomy_summary(*, taxonomy: Taxonomy) -> dict[str, Any]:
    mapping = Counter(ValueMapping.objects.filter(taxonomy=taxonomy).values_list("method", flat=True))
    return {
        "level_counts": taxonomy_level_counts(taxonomy=taxonomy),
        "mapping": {m.value: mapping.get(m.value, 0) for m in MappingMethod},
        "edits": TaxonomyEdit.objects.filter(taxonomy=taxonomy).count(),
    }


def taxonomy_tree(*, taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The taxonomy as nested dicts (top level first, children by size), for pages and exports."""
    nodes = list(
        TaxonomyNode.objects.filter(taxonomy=taxonomy).values(
            "id", "level", "name", "description", "parent_id", "size", "name_is_fallback", "pct_total_occurrences"
        )
    )
    by_id: dict[int, dict[str, Any]] = {n["id"]: {**n, "children": []} for n in nodes}
    roots: list[dict[str, Any]] = []
    for n in by_id.values():
        (by_id[n["parent_id"]]["children"] if n["parent_id"] else roots).append(n)
    for n in by_id.values():
        n["children"].sort(key=lambda c: (-c["size"], c["name"]))
    roots.sort(key=lambda c: (-c["size"], c["name"]))
    return roots
