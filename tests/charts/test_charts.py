"""The SVG charts: one mark per datum, labels escaped, well-formed markup, numbers in the table and the CSV."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest

from charts import (
    IntervalRow,
    Panel,
    ResidualBar,
    Series,
    TreeNode,
    TrendPoint,
    bar_chart,
    heatmap,
    icicle,
    interval_chart,
    residual_panels,
    trend_chart,
)
from charts.base import Chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> & 'co'"


def marks(chart: Chart) -> list[ET.Element]:
    """The data marks of a chart, read from its parsed SVG (it must be well-formed XML)."""
    root = ET.fromstring(chart.svg)
    return [el for el in root.iter() if "mark" in (el.get("class") or "").split()]


def test_interval_chart_draws_one_interval_bar_per_row_and_one_shared_target_line() -> None:
    rows = [
        IntervalRow("ai_values", 0.9875, 0.9325, 0.9978, 80, target=0.95, status="trusted"),
        IntervalRow("human_values", 0.9375, 0.8619, 0.9730, 80, target=0.95, status="not_yet"),
        IntervalRow("response_type", 0.90, 0.8149, 0.9485, 80, target=0.95, status="below"),
    ]
    chart = interval_chart(rows, slug="agreement", title="Agreement")
    drawn = marks(chart)
    assert len(drawn) == chart.marks == 3
    assert [el.get("fill") for el in drawn] == ["#2e7d32", "#b26a00", "#c62828"]
    assert chart.svg.count('class="target"') == 1
    assert "target 95.0%" in chart.svg
    # The bar spans the interval: its width is proportional to high - low on the shared scale.
    widths = [float(el.get("width") or 0) for el in drawn]
    assert widths[2] / widths[0] == pytest.approx((0.9485 - 0.8149) / (0.9978 - 0.9325), rel=0.02)
    assert chart.display_rows[0] == ["ai_values", "98.8%", "93.2%", "99.8%", "80", "95.0%", "trusted"]


def test_interval_chart_marks_each_rows_own_target_when_they_differ() -> None:
    rows = [IntervalRow("a", 0.9, 0.8, 0.95, 50, target=0.95), IntervalRow("b", 0.9, 0.8, 0.95, 50, target=0.85)]
    chart = interval_chart(rows, slug="t", title="t")
    assert chart.svg.count('class="target"') == 2


def test_trend_chart_draws_one_point_per_snapshot_and_series() -> None:
    series = [
        Series("ai_values", (TrendPoint(0, 0.9, 0.8, 0.95, 40), TrendPoint(1, 0.95, 0.9, 0.98, 80))),
        Series("task", (TrendPoint(1, 0.7, 0.6, 0.8, 80),)),
    ]
    chart = trend_chart(series, ["11-01", "11-08"], slug="trend", title="Trend", target=0.95)
    assert len(marks(chart)) == chart.marks == 3
    assert chart.svg.count("<polyline") == 1  # a series of one point has no line
    assert [r[:2] for r in chart.rows] == [("11-01", "ai_values"), ("11-08", "ai_values"), ("11-08", "task")]


def test_heatmap_draws_one_cell_per_value_and_leaves_empty_cells_unmarked() -> None:
    labels = ["strong_support", "mild_support", "neutral", "mild_resistance", "strong_resistance"]
    matrix = [[10, 2, 0, 0, 0], [1, 7, 0, 0, 0], [0, 0, 3, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 1, 4]]
    chart = heatmap(labels, labels, matrix, slug="cm", title="Confusion", row_title="machine", col_title="reviewer")
    assert len(marks(chart)) == chart.marks == 25
    assert ("strong_support", "mild_support", 2) in chart.rows
    darkest = min(marks(chart), key=lambda el: _brightness(el.get("fill") or "#000000"))
    assert darkest.findtext(f"{SVG}title") == "strong_support × strong_support: 10"
    pairs = heatmap(
        ["a", "b"], ["a", "b"], [[None, 0.9], [0.9, None]], slug="p", title="p", row_title="r", col_title="c"
    )
    assert len(marks(pairs)) == pairs.marks == 2


def _brightness(colour: str) -> int:
    return sum(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_residual_panels_draw_every_bar_grey_below_the_bonferroni_line() -> None:
    panels = [
        Panel(
            "relationship advice", (ResidualBar("healthy boundaries", 25.1, True), ResidualBar("empathy", 3.0, False))
        ),
        Panel("coding help", (ResidualBar("accuracy", 9.5, True), ResidualBar("care", -6.2, True))),
    ]
    chart = residual_panels(panels, critical=4.33, slug="res", title="Figure 3", panel_title="task")
    drawn = marks(chart)
    assert len(drawn) == chart.marks == 4
    assert [el.get("fill") for el in drawn] == ["#0072B2", "#bbbbbb", "#0072B2", "#D55E00"]
    assert chart.svg.count('class="critical"') == 2  # at +4.33 and -4.33, as a negative bar is shown
    assert "critical 4.33" in chart.svg
    assert chart.rows[1] == ("relationship advice", "empathy", 3.0, None, None, "no")


def test_icicle_draws_every_node_sized_by_share() -> None:
    nodes = [
        TreeNode(1, None, "Practical values", 0.6, 3),
        TreeNode(2, None, "Epistemic values", 0.4, 2),
        TreeNode(3, 1, "helpfulness", 0.45),
        TreeNode(4, 1, "efficiency", 0.15),
        TreeNode(5, 2, "accuracy", 0.4),
    ]
    chart = icicle(nodes, slug="tax", title="Taxonomy", height=500)
    drawn = marks(chart)
    assert len(drawn) == chart.marks == 5
    heights = {(el.findtext(f"{SVG}title") or "").split(":")[0]: float(el.get("height") or 0) + 1 for el in drawn}
    assert heights["Practical values"] == pytest.approx(300, abs=0.2)
    assert heights["Practical values › helpfulness"] == pytest.approx(225, abs=0.2)
    assert [r[0] for r in chart.rows][:2] == ["Practical values", "Practical values › helpfulness"]


def test_bar_chart_draws_one_bar_per_row_with_lengths_in_proportion() -> None:
    chart = bar_chart([("ai_values", 0.5), ("task", 0.25)], slug="cost", title="Cost", label_title="feature",
                      value_title="cost (USD)")  # fmt: skip
    drawn = marks(chart)
    assert len(drawn) == chart.marks == 2
    assert float(drawn[0].get("width") or 0) == pytest.approx(2 * float(drawn[1].get("width") or 0), rel=0.01)
    assert chart.display_rows == [["ai_values", "$0.5000"], ["task", "$0.2500"]]


@pytest.mark.parametrize(
    "make",
    [
        lambda: interval_chart([IntervalRow(HOSTILE, 0.5, 0.4, 0.6, 10)], slug="x", title=HOSTILE),
        lambda: heatmap([HOSTILE], [HOSTILE], [[1]], slug="x", title=HOSTILE, row_title=HOSTILE, col_title="c"),
        lambda: residual_panels(
            [Panel(HOSTILE, (ResidualBar(HOSTILE, 5.0, True),))], critical=4.33, slug="x", title=HOSTILE
        ),
        lambda: bar_chart([(HOSTILE, 1.0)], slug="x", title=HOSTILE, label_title="l", value_title="v"),
        lambda: icicle([TreeNode(1, None, HOSTILE, 1.0)], slug="x", title=HOSTILE),
        lambda: trend_chart([Series(HOSTILE, (TrendPoint(0, 0.5, 0.4, 0.6, 9),))], [HOSTILE], slug="x", title=HOSTILE),
    ],
)
def test_labels_are_escaped_in_the_svg_and_kept_whole_in_the_csv(make: object) -> None:
    chart = make()  # type: ignore[operator]
    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg
    root = ET.fromstring(chart.svg)  # well-formed despite the quotes and ampersand
    assert HOSTILE in " ".join(t for el in root.iter() for t in (el.text or "",))
    assert HOSTILE in next(csv.reader(io.StringIO(chart.csv().split("\n", 1)[1])))


def test_csv_link_carries_the_full_precision_numbers() -> None:
    chart = interval_chart([IntervalRow("ai, values", 79 / 80, 0.93253, 0.99779, 80)], slug="a", title="a")
    assert chart.csv_href.startswith("data:text/csv;charset=utf-8,")
    text = unquote(chart.csv_href.split(",", 1)[1])
    assert text == chart.csv()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["feature", "share", "low", "high", "n", "target", "status"]
    assert rows[1][:5] == ["ai, values", "0.9875", "0.93253", "0.99779", "80"]


def test_an_empty_chart_says_so_and_draws_no_mark() -> None:
    chart = interval_chart([], slug="e", title="Empty")
    assert chart.marks == 0
    assert marks(chart) == []
    assert "No reviewed outputs yet." in chart.svg


def test_nice_ticks_are_round_numbers_covering_the_range() -> None:
    assert nice_ticks(0.7, 1.0) == [0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-6.5, 26.4, count=6) == [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0]


def test_every_mark_has_a_tooltip() -> None:
    chart = heatmap(["a"], ["b", "c"], [[1, 2]], slug="t", title="t", row_title="r", col_title="c")
    assert all(el.find(f"{SVG}title") is not None for el in marks(chart))
    assert re.search(r'role="img" aria-labelledby="t-title t-desc"', chart.svg)
