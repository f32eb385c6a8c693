"""The chart of a residual analysis page, in the manner of the paper's Figure 3 (pure: no Django).

Figure 3 of "Values in the Wild" shows, for a handful of tasks (3a) or human values (3b), the AI values most
associated with each as bars of adjusted Pearson residuals, grey below the Bonferroni critical value. Here one
panel per column label of the analysis (a task, a human value, a response type), the columns with the strongest
associations first, each with its rows of highest residual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from charts import Chart, Panel, ResidualBar, residual_panels

PANELS = 6
BARS = 5


def residual_figure(
    cells: Sequence[Mapping[str, Any]],
    *,
    critical: float,
    row_feature: str,
    col_feature: str,
    panels: int = PANELS,
    bars: int = BARS,
) -> Chart:
    """``cells``: stored cells (row_label, col_label, residual, significant, observed, expected), any order; the
    positive ones are drawn, ``bars`` per panel, for the ``panels`` columns whose strongest residual is highest."""
    by_col: dict[str, list[Mapping[str, Any]]] = {}
    for cell in cells:
        if cell["residual"] > 0:
            by_col.setdefault(str(cell["col_label"]), []).append(cell)
    ranked = sorted(by_col.items(), key=lambda kv: (-max(c["residual"] for c in kv[1]), kv[0]))[:panels]
    chosen = [Panel(col, tuple(_bar(c) for c in sorted(group, key=_strongest)[:bars])) for col, group in ranked]
    return residual_panels(
        chosen,
        critical=critical,
        slug="residual-panels",
        title=f"{row_feature} most associated with each {col_feature} (adjusted Pearson residuals)",
        panel_title=col_feature,
        bar_title=row_feature,
    )


def _strongest(cell: Mapping[str, Any]) -> tuple[float, str]:
    return (-float(cell["residual"]), str(cell["row_label"]))


def _bar(cell: Mapping[str, Any]) -> ResidualBar:
    return ResidualBar(
        str(cell["row_label"]), float(cell["residual"]), bool(cell["significant"]), cell["observed"], cell["expected"]
    )
