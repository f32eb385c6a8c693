"""Heat maps: a confusion matrix of counts, or a matrix of coefficients between reviewers.

Each cell with a value is one mark, shaded by its value and labelled with it; empty cells (no data, such as a
reviewer against themself) are left unshaded and are not marks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from charts.base import (
    GRID,
    INK,
    MUTED,
    Chart,
    clip_label,
    empty_chart,
    esc,
    fmt_cell,
    is_dark,
    label_width,
    mark_rect,
    mix,
    open_svg,
    r1,
    text,
)

LOW = "#f7fbff"
HIGH = "#08519c"
NEGATIVE = "#b2182b"
CELL = 44


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    slug: str,
    title: str,
    row_title: str,
    col_title: str,
    value_title: str = "value",
    value_format: str = "int",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Chart:
    """Rows down the left, columns across the top (labels slanted), one shaded square per value.

    Shading runs from white at ``vmin`` (0 by default) to dark blue at ``vmax`` (the largest value by default);
    values below zero, such as a negative kappa, shade towards red."""
    columns = (row_title, col_title, value_title)
    filled = [(i, j, v) for i, row in enumerate(values) for j, v in enumerate(row) if v is not None]
    if not filled or not row_labels or not col_labels:
        return empty_chart(slug=slug, title=title, columns=columns, message="No data for this matrix yet.")
    lo = 0.0 if vmin is None else vmin
    hi = max((v for _, _, v in filled), default=1.0) if vmax is None else vmax
    hi = hi if hi > lo else lo + 1.0
    left = label_width(row_labels, max_chars=28) + 18
    top = label_width(col_labels, max_chars=28) * 0.72 + 30  # slanted labels need about sin(45°) of their length
    # A slanted label reaches right by about cos(40°) of its length from its column's centre.
    overhang = max(CELL * (j + 0.5) + 0.77 * label_width([c], max_chars=28) for j, c in enumerate(col_labels))
    width = left + max(CELL * len(col_labels) + 20, overhang + 8)
    height = top + CELL * len(row_labels) + 10
    parts = open_svg(
        width=width,
        height=height,
        slug=slug,
        title=title,
        desc=f"{len(row_labels)} {row_title} by {len(col_labels)} {col_title}; darker cells hold larger values.",
    )
    parts.append(text(4, top - 10, row_title, fill=MUTED, extra='font-style="italic"'))
    parts.append(text(left, 12, col_title, fill=MUTED, extra='font-style="italic"'))
    for j, label in enumerate(col_labels):
        cx, cy = left + CELL * (j + 0.5), top - 6
        parts.append(
            f'<text x="{r1(cx)}" y="{r1(cy)}" transform="rotate(-40 {r1(cx)} {r1(cy)})" fill="{INK}">'
            f"{esc(clip_label(label, 28))}</text>"
        )
    for i, label in enumerate(row_labels):
        parts.append(text(left - 6, top + CELL * (i + 0.5), clip_label(label, 28), anchor="end"))
        for j in range(len(col_labels)):
            parts.append(
                f'<rect x="{r1(left + CELL * j)}" y="{r1(top + CELL * i)}" width="{CELL}" height="{CELL}" '
                f'fill="none" stroke="{GRID}"/>'
            )
    for i, j, v in filled:
        colour = _shade(v, lo, hi)
        shown = fmt_cell(v, value_format)
        tip = f"{row_labels[i]} × {col_labels[j]}: {shown}"
        x, y = left + CELL * j, top + CELL * i
        parts.append(mark_rect(x + 1, y + 1, CELL - 2, CELL - 2, fill=colour, tip=tip, cls="cell"))
        ink = "#ffffff" if is_dark(colour) else INK
        parts.append(text(x + CELL / 2, y + CELL / 2, _compact(v, value_format), anchor="middle", fill=ink))
    parts.append("</svg>")
    table = tuple((row_labels[i], col_labels[j], v) for i, j, v in filled)
    return Chart(
        slug=slug,
        title=title,
        svg="".join(parts),
        columns=columns,
        rows=table,
        marks=len(filled),
        formats=("", "", value_format),
    )


def _shade(v: float, lo: float, hi: float) -> str:
    if v < 0 and lo < 0:
        return mix(LOW, NEGATIVE, v / lo)
    return mix(LOW, HIGH, (v - max(lo, 0.0)) / (hi - max(lo, 0.0)))


def _compact(v: float, kind: str) -> str:
    """The number inside a 44 px cell: counts in full up to 99,999, coefficients to two decimals."""
    if kind == "int":
        return f"{int(v):,}" if abs(v) < 100_000 else f"{v / 1000:.0f}k"
    if kind == "pct":
        return f"{100 * v:.0f}%"
    return "–" if math.isnan(v) else f"{v:.2f}"
