"""The residual page's chart, in the manner of the paper's Figure 3: panels, bars, the Bonferroni line."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from results.figures import residual_figure


def _cell(row: str, col: str, residual: float, significant: bool) -> dict[str, object]:
    return {
        "row_label": row,
        "col_label": col,
        "residual": residual,
        "significant": significant,
        "observed": 10,
        "expected": 2.0,
    }


def test_one_panel_per_column_strongest_first_with_its_highest_rows_and_grey_bars_below_the_line() -> None:
    cells = [
        _cell("healthy boundaries", "relationship advice", 25.1, True),
        _cell("mutual respect", "relationship advice", 12.0, True),
        _cell("empathy", "relationship advice", 3.1, False),
        _cell("historical accuracy", "controversial history", 30.2, True),
        _cell("care", "controversial history", -8.0, True),  # negative: not drawn, as in Figure 3
        *[_cell(f"value {i}", "coding help", 5.0 + i, True) for i in range(8)],
    ]
    chart = residual_figure(cells, critical=4.33, row_feature="ai_values", col_feature="task", bars=5)
    assert [r[0] for r in chart.rows[:1]] == ["controversial history"]
    panels = []
    for r in chart.rows:
        if r[0] not in panels:
            panels.append(r[0])
    assert panels == ["controversial history", "relationship advice", "coding help"]
    assert chart.marks == 1 + 3 + 5
    root = ET.fromstring(chart.svg)
    fills = [el.get("fill") for el in root.iter() if "mark" in (el.get("class") or "")]
    assert fills.count("#bbbbbb") == 1  # empathy, 3.1 < 4.33
    assert "critical 4.33" in chart.svg
