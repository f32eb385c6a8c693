"""The chart of a taxonomy page: its hierarchy as an icicle sized by share (pure: no Django).

A node's share is its ``pct_total_occurrences`` where the taxonomy carries one (an imported ``values_tree.csv``
gives it in percent), else its share of the taxonomy's values (``size``: values beneath it). With more than
``MAX_NODES`` nodes the values themselves (level 0) are left out of the drawing, so that it shows the categories;
every node stays in the page's list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from charts import Chart, TreeNode, icicle

MAX_NODES = 400


def _walk(nodes: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for node in nodes:
        yield node
        yield from _walk(node.get("children", []))


def taxonomy_figure(tree: Sequence[Mapping[str, Any]], *, max_nodes: int = MAX_NODES) -> Chart:
    """``tree``: nested nodes (id, parent_id, level, name, size, pct_total_occurrences, children), roots first."""
    nodes = list(_walk(tree))
    by_occurrence = any(n.get("pct_total_occurrences") is not None for n in nodes)
    values = sum(int(n.get("size") or 0) for n in tree) or 1
    shown = [n for n in nodes if n["level"] > 0] if len(nodes) > max_nodes else nodes
    drawn = [
        TreeNode(
            id=int(n["id"]),
            parent_id=n.get("parent_id"),
            name=str(n["name"]),
            share=((n["pct_total_occurrences"] or 0.0) / 100 if by_occurrence else int(n.get("size") or 0) / values),
            size=int(n.get("size") or 0),
        )
        for n in shown
    ]
    what = "share of occurrences" if by_occurrence else "share of values"
    left_out = (
        "" if len(shown) == len(nodes) else f"; the {len(nodes) - len(shown):,} values themselves are in the list"
    )
    return icicle(drawn, slug="taxonomy", title=f"The hierarchy, sized by {what}{left_out}")
