"""Charts drawn on the server as SVG: no JavaScript, no CDN, nothing to load but the page.

Pure (no Django): each function takes plain rows and returns a :class:`charts.base.Chart` with its SVG, the same
numbers as a table and a CSV download link. Pages include ``templates/charts/_figure.html`` to show one.

* :func:`charts.intervals.interval_chart`: shares with interval bars and a target line (agreement per feature);
* :func:`charts.intervals.trend_chart`: shares with intervals over snapshots;
* :func:`charts.matrix.heatmap`: a confusion matrix or reviewer-by-reviewer coefficients;
* :func:`charts.bars.residual_panels`: residual bars per panel with the Bonferroni line (the paper's Figure 3);
* :func:`charts.bars.bar_chart`: plain amounts, such as cost;
* :func:`charts.tree.icicle`: a hierarchy sized by share.
"""

from charts.bars import Panel, ResidualBar, bar_chart, residual_panels
from charts.base import Chart
from charts.intervals import IntervalRow, Series, TrendPoint, interval_chart, trend_chart
from charts.matrix import heatmap
from charts.tree import TreeNode, icicle

__all__ = [
    "Chart",
    "IntervalRow",
    "Panel",
    "ResidualBar",
    "Series",
    "TreeNode",
    "TrendPoint",
    "bar_chart",
    "heatmap",
    "icicle",
    "interval_chart",
    "residual_panels",
    "trend_chart",
]
