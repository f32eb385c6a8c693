"""A lead reviews a taxonomy in headless Chromium: renames a cluster with the page's form and sees the new name in
the tree and the edit in the review history; a prompt engineer sees the page without the forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from accounts.roles import Role
from taxonomy.models import TaxonomyNode
from taxonomy.services import taxonomy_import_tree
from tests.browser.conftest import NetworkLog
from tests.taxonomy.test_taxonomy_services import TREE

pytestmark = [pytest.mark.slow]


def test_a_lead_renames_a_cluster_with_the_form_and_sees_it_logged(
    transactional_db: None,
    tmp_path: Path,
    browser: Any,
    live_app: Any,
    login_as: Callable[..., Any],
    network: NetworkLog,
    screenshot: Callable[[str], Any],
) -> None:
    tree = tmp_path / "values_tree.csv"
    tree.write_text(TREE, encoding="utf-8")
    taxonomy = taxonomy_import_tree(path=tree, name="small")
    page = live_app.url + reverse("taxonomy-detail-page", args=[taxonomy.pk])

    login_as(Role.PROMPT_ENGINEER)
    browser.get(page)
    assert browser.find_element(By.ID, "history")
    assert not browser.find_elements(By.ID, "rename-form")

    user = login_as(Role.LEAD)
    browser.get(page)
    form = browser.find_element(By.ID, "rename-form")
    form.find_element(By.XPATH, "./ancestor::details/summary").click()  # the form sits behind a toggle
    Select(form.find_element(By.NAME, "node")).select_by_visible_text("Art (level 1)")
    form.find_element(By.NAME, "name").send_keys("Creative expression")
    screenshot("rename-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("#history"))

    assert network.status_of(page) == 200
    # Inner clusters sit in closed <details>: their text is read from the document, not from what is drawn.
    strong = browser.find_elements(By.CSS_SELECTOR, "details > summary strong")
    summaries = [s.get_attribute("textContent") for s in strong]
    assert "Creative expression" in summaries
    assert "Art" not in summaries
    rows = browser.find_elements(By.CSS_SELECTOR, "#history + table tr")
    cells = [td.text for td in rows[1].find_elements(By.TAG_NAME, "td")]
    assert cells[1:] == [user.username, "Rename", "Art", "Creative expression"]
    assert TaxonomyNode.objects.get(taxonomy=taxonomy, key="l1:art").name == "Creative expression"
    screenshot("after-rename")
    network.assert_local()
