"""Horizontal bars: residual panels in the manner of the paper's Figure 3, and plain bars for amounts such as cost.

Figure 3 of "Values in the Wild" shows, for each task (or human value), the AI values most associated with it as
bars of adjusted Pearson residuals, grey when the residual is below the Bonferroni critical value (4.33 for its
3,307 comparisons). :func:`residual_panels` draws the same: one panel per column label, a dashed line at the
critical value, significant bars coloured and the others grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from charts.base import (
    GRID,
    INK,
    MUTED,
    PALETTE,
    Chart,
    Scale,
    clip_label,
    empty_chart,
    fmt_cell,
    label_width,
    line,
    mark_rect,
    nice_ticks,
    open_svg,
    text,
)

BAR_H = 18
GREY = "#bbbbbb"
POSITIVE = PALETTE[0]
NEGATIVE = PALETTE[5]


@dataclass(frozen=True)
class ResidualBar:
    label: str
    residual: float
    significant: bool
    observed: int | None = None
    expected: float | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    bars: tuple[ResidualBar, ...]


def residual_panels(
    panels: Sequence[Panel],
    *,
    critical: float,
    slug: str,
    title: str,
    panel_title: str = "column",
    bar_title: str = "row",
    width: float = 640,
) -> Chart:
    """One panel per ``Panel`` stacked downwards, on one shared residual axis with dashed lines at ± ``critical``."""
    columns = (panel_title, bar_title, "residual", "observed", "expected", "significant")
    bars = [b for p in panels for b in p.bars]
    if not bars:
        return empty_chart(slug=slug, title=title, columns=columns, message="No stored cell to show.")
    left = label_width((b.label for b in bars), max_chars=32)
    right = width - 52
    lo = min(0.0, *(b.residual for b in bars))
    hi = max(critical, *(b.residual for b in bars))
    lo = min(lo, -critical) if lo < 0 else lo
    x = Scale(lo * 1.05, hi * 1.05, left, right)
    height = 20 + sum(28 + BAR_H * len(p.bars) + 8 for p in panels) + 24
    parts = open_svg(
        width=width,
        height=height,
        slug=slug,
        title=title,
        desc=(
            f"{len(panels)} panels of adjusted Pearson residuals; coloured bars pass the Bonferroni critical value "
            f"{critical:.2f}, grey bars do not."
        ),
    )
    ticks = nice_ticks(x.lo, x.hi, count=6)
    for t in ticks:
        parts.append(line(x(t), 14, x(t), height - 22, stroke=GRID))
        parts.append(text(x(t), height - 12, f"{t:g}", anchor="middle", fill=MUTED))
    y = 20.0
    for p in panels:
        parts.append(text(4, y + 10, clip_label(p.title, 80), extra='font-weight="bold"'))
        y += 28
        for b in p.bars:
            colour = (POSITIVE if b.residual >= 0 else NEGATIVE) if b.significant else GREY
            x0, x1 = sorted((x(0.0), x(b.residual)))
            tip = f"{p.title} / {b.label}: residual {b.residual:.2f}" + ("" if b.significant else " (not significant)")
            parts.append(text(left - 6, y + BAR_H / 2, clip_label(b.label, 32), anchor="end"))
            parts.append(mark_rect(x0, y + 2, x1 - x0, BAR_H - 4, fill=colour, tip=tip, cls="bar"))
            anchor_x = x(b.residual) + (4 if b.residual >= 0 else -4)
            parts.append(
                text(anchor_x, y + BAR_H / 2, f"{b.residual:.1f}", anchor="start" if b.residual >= 0 else "end")
            )
            y += BAR_H
        y += 8
    for c in (critical, -critical):
        if x.lo <= c <= x.hi:
            parts.append(line(x(c), 14, x(c), height - 22, stroke=INK, cls="critical", dash="4 3"))
    parts.append(text(x(critical), 8, f"critical {critical:.2f}", anchor="middle"))
    parts.append(line(x(0.0), 14, x(0.0), height - 22, stroke=MUTED))
    parts.append("</svg>")
    table = tuple(
        (p.title, b.label, b.residual, b.observed, b.expected, "yes" if b.significant else "no")
        for p in panels
        for b in p.bars
    )
    return Chart(
        slug=slug,
        title=title,
        svg="".join(parts),
        columns=columns,
        rows=table,
        marks=len(bars),
        formats=("", "", "res", "int", "res", ""),
    )


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    slug: str,
    title: str,
    label_title: str,
    value_title: str,
    value_format: str = "usd",
    width: float = 640,
) -> Chart:
    """One bar per row from zero, its value written at its end."""
    columns = (label_title, value_title)
    if not rows:
        return empty_chart(slug=slug, title=title, columns=columns, message="Nothing to show yet.")
    left = label_width(label for label, _ in rows)
    right = width - 90
    hi = max((v for _, v in rows), default=0.0)
    x = Scale(0.0, hi if hi > 0 else 1.0, left, right)
    height = 16 + BAR_H * 1.4 * len(rows) + 24
    parts = open_svg(width=width, height=height, slug=slug, title=title, desc=f"{len(rows)} bars of {value_title}.")
    for t in nice_ticks(0.0, x.hi, count=4):
        parts.append(line(x(t), 10, x(t), height - 22, stroke=GRID))
        parts.append(text(x(t), height - 12, fmt_cell(t, value_format), anchor="middle", fill=MUTED))
    for i, (label, value) in enumerate(rows):
        y = 12 + i * BAR_H * 1.4
        shown = fmt_cell(value, value_format)
        parts.append(text(left - 6, y + BAR_H / 2, clip_label(label, 36), anchor="end"))
        parts.append(mark_rect(left, y, x(value) - left, BAR_H, fill=PALETTE[0], tip=f"{label}: {shown}", cls="bar"))
        parts.append(text(x(value) + 4, y + BAR_H / 2, shown))
    parts.append("</svg>")
    return Chart(
        slug=slug,
        title=title,
        svg="".join(parts),
        columns=columns,
        rows=tuple((label, value) for label, value in rows),
        marks=len(rows),
        formats=("", value_format),
    )
