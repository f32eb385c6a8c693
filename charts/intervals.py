"""Shares with their confidence intervals: one interval bar per row against a target, and trends over time.

The axis starts where the data does (agreement near 95% would otherwise be a sliver at the right edge); that is
honest because the marks are intervals and points, not bars measured from zero.
"""

from __future__ import annotations

import math
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
    esc,
    fmt_pct,
    label_width,
    line,
    mark_rect,
    nice_ticks,
    open_svg,
    r1,
    text,
)

#: Colours of the trust statuses (validation.trust): trusted, not yet, below target.
STATUS_COLOURS = {"trusted": "#2e7d32", "not_yet": "#b26a00", "below": "#c62828"}
ROW_H = 26
TOP = 28


@dataclass(frozen=True)
class IntervalRow:
    label: str
    estimate: float
    low: float
    high: float
    n: int
    target: float | None = None
    status: str | None = None


def _domain(values: Sequence[float]) -> tuple[float, float]:
    lo = max(0.0, math.floor(min(values) * 10 - 0.5) / 10)
    return (lo, 1.0)


def _pct_axis(parts: list[str], x: Scale, *, y0: float, y1: float) -> None:
    for t in nice_ticks(x.lo, x.hi, count=5):
        parts.append(line(x(t), y0, x(t), y1, stroke=GRID))
        parts.append(text(x(t), y1 + 12, fmt_pct(t, 0), anchor="middle", fill=MUTED))


def interval_chart(
    rows: Sequence[IntervalRow], *, slug: str, title: str, label_title: str = "feature", width: float = 640
) -> Chart:
    """One row per item: a bar from the interval's low to high end, a tick at the estimate, and the target.

    When every row has the same target it is one dashed line across the chart; otherwise each row has its own."""
    columns = (label_title, "share", "low", "high", "n", "target", "status")
    if not rows:
        return empty_chart(slug=slug, title=title, columns=columns, message="No reviewed outputs yet.")
    left = label_width(r.label for r in rows)
    right = width - 70
    targets = {r.target for r in rows}
    x = Scale(*_domain([r.low for r in rows] + [t for t in targets if t is not None]), left, right)
    height = TOP + ROW_H * len(rows) + 30
    parts = open_svg(
        width=width,
        height=height,
        slug=slug,
        title=title,
        desc=f"{len(rows)} rows; bars span the 95% interval, the dark tick marks the estimate.",
    )
    _pct_axis(parts, x, y0=TOP - 6, y1=height - 24)
    for i, r in enumerate(rows):
        y = TOP + i * ROW_H
        colour = STATUS_COLOURS.get(r.status or "", PALETTE[0])
        tip = f"{r.label}: {fmt_pct(r.estimate)} [{fmt_pct(r.low)}, {fmt_pct(r.high)}], n = {r.n}"
        parts.append(text(left - 6, y + ROW_H / 2, clip_label(r.label, 36), anchor="end"))
        parts.append(mark_rect(x(r.low), y + 7, x(r.high) - x(r.low), ROW_H - 14, fill=colour, tip=tip, cls="interval"))
        parts.append(line(x(r.estimate), y + 3, x(r.estimate), y + ROW_H - 3, stroke=INK, cls="estimate"))
        parts.append(text(right + 6, y + ROW_H / 2, fmt_pct(r.estimate), fill=INK))
        if r.target is not None and len(targets) > 1:
            parts.append(line(x(r.target), y + 1, x(r.target), y + ROW_H - 1, stroke=INK, cls="target", dash="3 2"))
    if len(targets) == 1 and None not in targets:
        (t,) = targets
        assert t is not None
        parts.append(line(x(t), TOP - 10, x(t), height - 24, stroke=INK, cls="target", dash="4 3"))
        parts.append(text(x(t), TOP - 16, f"target {fmt_pct(t, 1)}", anchor="middle"))
    parts.append("</svg>")
    table = tuple((r.label, r.estimate, r.low, r.high, r.n, r.target, r.status or "") for r in rows)
    return Chart(
        slug=slug,
        title=title,
        svg="".join(parts),
        columns=columns,
        rows=table,
        marks=len(rows),
        formats=("", "pct", "pct", "pct", "int", "pct", ""),
    )


@dataclass(frozen=True)
class TrendPoint:
    x: int  # index into the chart's x labels
    estimate: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[TrendPoint, ...]


def trend_chart(
    series: Sequence[Series],
    x_labels: Sequence[str],
    *,
    slug: str,
    title: str,
    x_title: str = "snapshot",
    target: float | None = None,
    width: float = 640,
) -> Chart:
    """Each series a line through its points (one mark each) with vertical interval whiskers; a legend below."""
    columns = (x_title, "series", "share", "low", "high", "n")
    points = [p for s in series for p in s.points]
    if not points:
        return empty_chart(slug=slug, title=title, columns=columns, message="Nothing to follow yet.")
    left, right, top = 48.0, width - 16, 16.0
    bottom = 220.0
    legend_rows = math.ceil(len(series) / 3)
    height = bottom + 40 + 18 * legend_rows
    lo, hi = _domain([p.low for p in points] + ([target] if target is not None else []))
    y = Scale(lo, hi, bottom, top)
    step = (right - left) / max(len(x_labels), 1)
    x_of = [left + step * (i + 0.5) for i in range(len(x_labels))]
    parts = open_svg(
        width=width,
        height=height,
        slug=slug,
        title=title,
        desc=f"{len(series)} series over {len(x_labels)} {x_title}s; whiskers span the 95% interval.",
    )
    for t in nice_ticks(lo, hi, count=5):
        parts.append(line(left, y(t), right, y(t), stroke=GRID))
        parts.append(text(left - 4, y(t), fmt_pct(t, 0), anchor="end", fill=MUTED))
    every = max(1, math.ceil(len(x_labels) / 8))  # at most about eight x labels, so they do not overlap
    for i, label in enumerate(x_labels):
        if i % every == 0:
            parts.append(text(x_of[i], bottom + 14, _short(label), anchor="middle", fill=MUTED))
    if target is not None:
        parts.append(line(left, y(target), right, y(target), stroke=INK, cls="target", dash="4 3"))
        parts.append(text(right, y(target) - 8, f"target {fmt_pct(target)}", anchor="end"))
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        pts = sorted(s.points, key=lambda p: p.x)
        nudge = (k - (len(series) - 1) / 2) * 5  # side by side, so whiskers of one snapshot do not hide each other
        if len(pts) > 1:
            coords = " ".join(f"{r1(x_of[p.x] + nudge)},{r1(y(p.estimate))}" for p in pts)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in pts:
            cx = x_of[p.x] + nudge
            parts.append(line(cx, y(p.low), cx, y(p.high), stroke=colour, cls="interval"))
            tip = f"{s.name}, {x_labels[p.x]}: {fmt_pct(p.estimate)} [{fmt_pct(p.low)}, {fmt_pct(p.high)}], n = {p.n}"
            parts.append(
                f'<circle class="mark" cx="{r1(cx)}" cy="{r1(y(p.estimate))}" r="4" fill="{colour}">'
                f"<title>{esc(tip)}</title></circle>"
            )
        lx, ly = left + (k % 3) * (width - left) / 3, bottom + 36 + 18 * (k // 3)
        parts.append(f'<rect x="{r1(lx)}" y="{r1(ly - 5)}" width="10" height="10" fill="{colour}"/>')
        parts.append(text(lx + 14, ly, clip_label(s.name, 30)))
    parts.append("</svg>")
    table = tuple(
        (x_labels[p.x], s.name, p.estimate, p.low, p.high, p.n) for s in series for p in sorted(s.points, key=_x)
    )
    return Chart(
        slug=slug,
        title=title,
        svg="".join(parts),
        columns=columns,
        rows=table,
        marks=len(points),
        formats=("", "", "pct", "pct", "pct", "int"),
    )


def _x(p: TrendPoint) -> int:
    return p.x


def _short(label: str) -> str:
    return clip_label(label, 16)
