"""What every chart shares: the :class:`Chart` it returns, SVG text escaping, number formats, colours and scales.

A chart is server-rendered SVG with its numbers beside it: ``svg`` is the markup (every label escaped), ``columns``
and ``rows`` the same numbers as a table, ``csv_href`` a ``data:`` link to download them. Each data mark (bar, cell,
point, arc) carries ``class="mark"`` and a ``<title>`` tooltip, so tests and browsers count and read them the same way.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

Cell = str | int | float | None

#: Okabe & Ito (2008) colour-blind-safe palette, for series told apart by colour.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
INK = "#222222"
MUTED = "#777777"
GRID = "#dddddd"
#: Character width of the 12 px sans-serif labels, for laying out margins without measuring text.
CHAR_PX = 7.2
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Chart:
    """One chart: its SVG, the numbers it draws as a table, and how many data marks it drew."""

    slug: str
    title: str
    svg: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    marks: int
    note: str = ""
    formats: tuple[str, ...] = field(default=())

    @property
    def display_rows(self) -> list[list[str]]:
        """The rows as the table shows them (``formats`` per column: ``pct``, ``num``, ``int``, ``usd`` or text)."""
        fmts = self.formats or ("",) * len(self.columns)
        return [[fmt_cell(v, f) for v, f in zip(row, fmts, strict=True)] for row in self.rows]

    def csv(self) -> str:
        """The rows at full precision, with a header line."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if v is None else v for v in row])
        return out.getvalue()

    @property
    def csv_href(self) -> str:
        """The CSV as a ``data:`` URL: the download needs no endpoint, so it needs no permission check of its own."""
        return "data:text/csv;charset=utf-8," + quote(self.csv(), safe="")

    @property
    def csv_filename(self) -> str:
        return f"{self.slug}.csv"


def esc(text: object) -> str:
    """Text for SVG content or an attribute value: ``& < > " '`` escaped."""
    return escape(str(text), quote=True)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def fmt_cell(value: Cell, kind: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "num":
        return f"{value:.3f}"
    if kind == "res":
        return f"{value:.2f}"
    if kind == "usd":
        return f"${value:,.4f}"
    if kind == "int":
        return f"{int(value):,}"
    return str(value)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def clip_label(text: str, max_chars: int) -> str:
    """A label cut to ``max_chars`` with an ellipsis; the full text stays in the mark's tooltip and the table."""
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def label_width(labels: Iterable[str], *, max_chars: int = 36) -> float:
    longest = max((min(len(s), max_chars) for s in labels), default=0)
    return longest * CHAR_PX + 12


def r1(x: float) -> str:
    """A coordinate with one decimal (keeps the markup small and stable)."""
    return f"{x:.1f}".removesuffix(".0")


def open_svg(*, width: float, height: float, title: str, desc: str, slug: str) -> list[str]:
    """The opening of an accessible SVG: ``role="img"`` labelled by its title and description."""
    t_id, d_id = f"{slug}-title", f"{slug}-desc"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {r1(width)} {r1(height)}" '
        f'width="{r1(width)}" height="{r1(height)}" role="img" aria-labelledby="{esc(t_id)} {esc(d_id)}" {FONT}>',
        f'<title id="{esc(t_id)}">{esc(title)}</title><desc id="{esc(d_id)}">{esc(desc)}</desc>',
    ]


def text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = INK, extra: str = "") -> str:
    more = f" {extra}" if extra else ""
    return (
        f'<text x="{r1(x)}" y="{r1(y)}" text-anchor="{anchor}" fill="{fill}" dominant-baseline="middle"{more}>'
        f"{esc(content)}</text>"
    )


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = GRID, cls: str = "", dash: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<line{c} x1="{r1(x1)}" y1="{r1(y1)}" x2="{r1(x2)}" y2="{r1(y2)}" stroke="{stroke}"{d}/>'


def mark_rect(x: float, y: float, w: float, h: float, *, fill: str, tip: str, cls: str = "") -> str:
    """A data mark: a rectangle with its tooltip."""
    c = f"mark {cls}".strip()
    return (
        f'<rect class="{c}" x="{r1(x)}" y="{r1(y)}" width="{r1(max(w, 0.0))}" height="{r1(max(h, 0.0))}" '
        f'fill="{fill}"><title>{esc(tip)}</title></rect>'
    )


@dataclass(frozen=True)
class Scale:
    """A linear map from data ``[lo, hi]`` to pixels ``[a, b]``."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.a + (min(max(v, self.lo), self.hi) - self.lo) / span * (self.b - self.a)


def nice_ticks(lo: float, hi: float, *, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (steps of 1, 2 or 5 times a power of ten)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    span = hi - lo
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs(span / s - count))
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def mix(c1: str, c2: str, t: float) -> str:
    """Colour between ``c1`` (t = 0) and ``c2`` (t = 1), both ``#rrggbb``."""
    t = min(max(t, 0.0), 1.0)
    a = [int(c1[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(c2[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def is_dark(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


def empty_chart(*, slug: str, title: str, columns: Sequence[str], message: str) -> Chart:
    """A chart with no data: a short SVG that says so, and an empty table."""
    parts = open_svg(width=480, height=40, title=title, desc=message, slug=slug)
    parts += [text(8, 20, message, fill=MUTED), "</svg>"]
    return Chart(slug=slug, title=title, svg="".join(parts), columns=tuple(columns), rows=(), marks=0, note=message)
