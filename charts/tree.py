"""A hierarchy as an icicle (a tree drawn as nested bands): the top level at the left, each node's band as tall as
its share, its children splitting that band in proportion to their own shares.

Shares come from the data (a taxonomy node's share of all value occurrences); children are drawn in proportion to
one another inside their parent, so a parent whose children's shares do not add up to its own is still filled.
Every node is one mark; names are written only where the band is tall enough, the rest are in tooltips and table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from charts.base import (
    CHAR_PX,
    PALETTE,
    Chart,
    clip_label,
    empty_chart,
    fmt_pct,
    is_dark,
    mark_rect,
    mix,
    open_svg,
    text,
)

MIN_LABEL_PX = 14


@dataclass(frozen=True)
class TreeNode:
    id: int
    parent_id: int | None
    name: str
    share: float | None  # of the whole, 0..1; None when unknown (drawn by size instead)
    size: int = 1


def _weight(node: TreeNode) -> float:
    return node.share if node.share is not None and node.share > 0 else 0.0


def icicle(nodes: Sequence[TreeNode], *, slug: str, title: str, width: float = 640, height: float = 480) -> Chart:
    """Draw ``nodes`` (parents before or after children, any order); a node whose parent is absent is a root."""
    columns = ("path", "depth", "share", "values beneath")
    if not nodes:
        return empty_chart(slug=slug, title=title, columns=columns, message="No node in this taxonomy yet.")
    ids = {n.id for n in nodes}
    children: dict[int | None, list[TreeNode]] = {}
    for n in nodes:
        children.setdefault(n.parent_id if n.parent_id in ids else None, []).append(n)
    for kids in children.values():
        kids.sort(key=lambda n: (-_weight(n), -n.size, n.name))
    depth_of: dict[int, int] = {}
    _depths(children, None, 0, depth_of)
    depth = max(depth_of.values()) + 1
    col_w = width / depth
    parts = open_svg(
        width=width,
        height=height,
        slug=slug,
        title=title,
        desc=f"{len(nodes)} nodes on {depth} levels; each band is as tall as the node's share.",
    )
    rows: list[tuple[str, int, float | None, int]] = []
    drawn = _layout(children, None, 0.0, height, "", parts, rows, col_w=col_w, depth_of=depth_of, k=[0])
    parts.append("</svg>")
    return Chart(
        slug=slug,
        title=title,
        svg="".join(parts),
        columns=columns,
        rows=tuple(rows),
        marks=drawn,
        formats=("", "int", "pct", "int"),
    )


def _depths(children: dict[int | None, list[TreeNode]], parent: int | None, d: int, out: dict[int, int]) -> None:
    for n in children.get(parent, []):
        out[n.id] = d
        _depths(children, n.id, d + 1, out)


def _layout(
    children: dict[int | None, list[TreeNode]],
    parent: int | None,
    y0: float,
    span: float,
    path: str,
    parts: list[str],
    rows: list[tuple[str, int, float | None, int]],
    *,
    col_w: float,
    depth_of: dict[int, int],
    k: list[int],
) -> int:
    kids = children.get(parent, [])
    weights = [_weight(n) for n in kids]
    total = sum(weights)
    if total <= 0:  # no shares known: size decides
        weights = [float(n.size) for n in kids]
        total = sum(weights) or 1.0
    drawn = 0
    y = y0
    for n, w in zip(kids, weights, strict=True):
        h = span * w / total
        d = depth_of[n.id]
        if parent is None:
            k[0] += 1
        base = PALETTE[(k[0] - 1) % 6]
        colour = mix(base, "#ffffff", min(0.25 * d, 0.75))
        full = f"{path} › {n.name}" if path else n.name
        tip = f"{full}: {fmt_pct(n.share)} of occurrences, {n.size:,} values"
        parts.append(mark_rect(d * col_w + 1, y + 0.5, col_w - 2, h - 1, fill=colour, tip=tip, cls="node"))
        if h >= MIN_LABEL_PX:
            ink = "#ffffff" if is_dark(colour) else "#222222"
            label = clip_label(f"{n.name} {fmt_pct(n.share)}", int((col_w - 8) / CHAR_PX))
            parts.append(text(d * col_w + 5, y + min(h / 2, 12), label, fill=ink))
        rows.append((full, d, n.share, n.size))
        drawn += 1 + _layout(children, n.id, y, h, full, parts, rows, col_w=col_w, depth_of=depth_of, k=k)
        y += h
    return drawn
