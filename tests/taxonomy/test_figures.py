"""The taxonomy page's chart: the hierarchy as an icicle, sized by share of occurrences or of values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.roles import Role
from taxonomy.figures import taxonomy_figure
from taxonomy.selectors import taxonomy_tree
from taxonomy.services import taxonomy_import_tree
from tests.pages import client_as
from tests.taxonomy.test_taxonomy_services import TREE


def _node(pk: int, parent: int | None, level: int, name: str, size: int, pct: float | None = None) -> dict[str, Any]:
    return {
        "id": pk,
        "parent_id": parent,
        "level": level,
        "name": name,
        "size": size,
        "pct_total_occurrences": pct,
        "children": [],
    }


def _tree(pct: bool) -> list[dict[str, Any]]:
    top = _node(1, None, 1, "Practical values", 3, 60.0 if pct else None)
    other = _node(2, None, 1, "Epistemic values", 1, 40.0 if pct else None)
    top["children"] = [_node(3 + i, 1, 0, name, 1, 20.0 if pct else None) for i, name in enumerate(("a", "b", "c"))]
    other["children"] = [_node(6, 2, 0, "accuracy", 1, 40.0 if pct else None)]
    return [top, other]


def test_every_node_is_drawn_and_sized_by_its_share_of_values_without_occurrences() -> None:
    chart = taxonomy_figure(_tree(pct=False))
    assert chart.marks == 6
    shares = {r[0]: r[2] for r in chart.rows}
    assert shares["Practical values"] == 0.75  # 3 of the 4 values
    assert "share of values" in chart.title


def test_imported_percentages_size_the_bands_and_a_large_tree_leaves_the_values_out() -> None:
    chart = taxonomy_figure(_tree(pct=True))
    assert {r[0]: r[2] for r in chart.rows}["Epistemic values"] == 0.4
    assert "share of occurrences" in chart.title
    small = taxonomy_figure(_tree(pct=True), max_nodes=3)
    assert small.marks == 2  # the two categories; the four values are in the page's list
    assert "the 4 values themselves are in the list" in small.title


@pytest.mark.django_db
def test_taxonomy_page_draws_the_imported_tree_node_by_node(tmp_path: Path) -> None:
    path = tmp_path / "values_tree.csv"
    path.write_text(TREE, encoding="utf-8")
    taxonomy = taxonomy_import_tree(path=path, name="small")
    text = client_as(Role.ANNOTATOR).get(f"/analysis/taxonomies/{taxonomy.pk}/").content.decode()
    figure = text.split('<figure class="chart" id="chart-taxonomy">')[1].split("</figure>")[0]
    assert figure.count('class="mark') == 10  # 2 + 3 + 5 nodes of the file
    assert "Epistemic › Truthfulness › honesty: 1.5% of occurrences, 1 values" in figure


@pytest.mark.slow
@pytest.mark.django_db
def test_the_published_tree_is_drawn_as_its_297_categories(shared_data: Path) -> None:
    taxonomy = taxonomy_import_tree(path=shared_data / "values-in-the-wild" / "values_tree.csv", name="published")
    chart = taxonomy_figure(taxonomy_tree(taxonomy=taxonomy))
    assert chart.marks == 5 + 26 + 266  # the 3,307 values are left to the list
    assert "the 3,307 values themselves are in the list" in chart.title
    assert sum(float(row[2] or 0) for row in chart.rows if row[1] == 0) == pytest.approx(1.0, abs=0.02)
