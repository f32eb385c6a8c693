"""The charts in headless Chromium, as a lead. The trust page: the verdict first, then every chart drawn with one mark
per datum; and the residual, taxonomy and cost charts on their pages.

Marks are counted in the browser's DOM (what was drawn), against the numbers of the snapshot the page shows; the
page is also drawn at a phone's width (390 px): the verdicts fit the screen, a wide chart scrolls inside its own box.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from accounts.roles import Role
from taxonomy.services import taxonomy_import_tree
from tests.browser.conftest import NetworkLog
from tests.pages import build_loop
from tests.taxonomy.test_taxonomy_services import TREE
from tests.validation.conftest import Study, study  # noqa: F401 - the reviewed study, as a fixture here too
from validation.services import agreement_snapshot_create

pytestmark = [pytest.mark.slow]


def _marks(browser: Any) -> dict[str, int]:
    return {
        str(figure.get_attribute("id")): len(figure.find_elements(By.CSS_SELECTOR, "svg .mark"))
        for figure in browser.find_elements(By.CSS_SELECTOR, "figure.chart")
    }


def _expected(payload: dict[str, Any], snapshots: int) -> dict[str, int]:
    features = payload["agreement"]["feature"]
    confusion = payload["response_type_confusion"]
    pairs = {
        tuple(sorted(p["annotators"]))
        for entry in payload["reliability"].values()
        for p in (entry.get("verdict") or {}).get("cohen_kappa_pairs", [])
    }
    return {
        "chart-agreement": len(features),
        "chart-agreement-trend": snapshots * len(features),
        "chart-agreement-prompt-versions": len(payload["agreement"]["prompt_version"]),
        "chart-confusion": len(confusion["labels"]) ** 2 if confusion["n"] else 0,
        "chart-reviewer-agreement": 2 * len(pairs),
    }


def test_a_lead_sees_the_verdict_first_and_every_chart_drawn(
    transactional_db: None,
    study: Study,  # noqa: F811
    browser: Any,
    live_app: Any,
    login_as: Callable[..., Any],
    network: NetworkLog,
    screenshot: Callable[[str], Any],
) -> None:
    agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    newest = agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    login_as(Role.LEAD)
    browser.get(live_app.url + reverse("validation-run-page", args=[study.run.pk]))
    assert browser.find_element(By.CSS_SELECTOR, "h1").text.startswith(f"Can the labels of run {study.run.pk}")
    verdicts = browser.find_element(By.CSS_SELECTOR, "table.verdicts")
    first_chart = browser.find_element(By.CSS_SELECTOR, "figure.chart")
    assert verdicts.location["y"] < first_chart.location["y"]
    statuses = [e.text for e in verdicts.find_elements(By.CSS_SELECTOR, ".status")]
    assert "below target" in statuses  # response type, 16 of 20: at most 91.9% at the interval's upper end
    expected = _expected(newest.payload, snapshots=2)
    assert _marks(browser) == expected
    assert all(n > 0 for n in expected.values())
    for svg in browser.find_elements(By.CSS_SELECTOR, "figure.chart svg"):
        assert svg.size["width"] > 100
        assert svg.size["height"] > 30
    screenshot("trust page")
    browser.set_window_size(390, 844)
    browser.get(browser.current_url)
    page_width = browser.execute_script("return document.documentElement.clientWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= page_width  # no page-wide scroll
    for box in browser.find_elements(By.CSS_SELECTOR, "figure.chart .chart-body"):
        assert box.size["width"] <= page_width  # a wide chart scrolls inside its own box, at a legible size
    headline = browser.find_element(By.CSS_SELECTOR, "table.verdicts .headline")
    assert headline.location["x"] + headline.size["width"] <= page_width
    screenshot("trust page at 390 px")
    network.assert_local()


def test_the_residual_taxonomy_and_cost_charts_are_drawn_on_their_pages(
    transactional_db: None,
    tmp_path: Path,
    browser: Any,
    live_app: Any,
    login_as: Callable[..., Any],
    network: NetworkLog,
    screenshot: Callable[[str], Any],
) -> None:
    loop = build_loop()
    tree = tmp_path / "values_tree.csv"
    tree.write_text(TREE, encoding="utf-8")
    taxonomy = taxonomy_import_tree(path=tree, name="small")
    login_as(Role.LEAD)
    pages = [
        ("residual-page", [loop.residuals.pk], "chart-residual-panels", 2),  # empathy and accuracy, one per task
        ("taxonomy-detail-page", [taxonomy.pk], "chart-taxonomy", 10),  # every node of the file
        ("extraction-run-page", [loop.run.pk], "chart-cost-per-feature", 2),  # ai_values and task
        ("home", [], "chart-cost-per-run", 1),
    ]
    for name, args, chart, marks in pages:
        browser.get(live_app.url + reverse(name, args=args))
        assert _marks(browser)[chart] == marks, name
        screenshot(name)
    network.assert_local()
