"""Adjudication in headless Chromium, as a lead, on the demo's example reviews: the flagged list, one output settled
from its page, and the agreement figure on the trust page moved by exactly that output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from accounts.roles import Role
from stats.proportions import proportion_ci
from tests.browser.conftest import NetworkLog
from tests.workbench.demo_reviews import demo_loop
from validation.services import agreement_snapshot_create
from validation.trust import headline

pytestmark = [pytest.mark.slow]


def _submit_and_wait(browser: Any, button: Any) -> None:
    """Click a button that posts its form, and wait until the page it leads to has replaced this one (on a loaded
    machine the old page can still be there when the next element is looked up)."""
    old_body = browser.find_element(By.TAG_NAME, "body")
    button.click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(old_body))
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _response_type_headline(browser: Any) -> str:
    for row in browser.find_elements(By.CSS_SELECTOR, "table.verdicts tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        if cells and cells[0].text == "response_type":
            return str(row.find_element(By.CSS_SELECTOR, ".headline").text)
    raise AssertionError("no response_type row in the verdicts table")


def test_a_lead_settles_a_flagged_output_and_the_agreement_figure_changes(
    transactional_db: None,
    browser: Any,
    live_app: Any,
    login_as: Callable[..., Any],
    network: NetworkLog,
    screenshot: Callable[[str], Any],
) -> None:
    loop = demo_loop()
    before = agreement_snapshot_create(run_id=loop.run.pk, n_boot=10).payload
    share = next(r for r in before["agreement"]["feature"] if r["feature"] == "response_type")
    login_as(Role.LEAD)
    trust_url = live_app.url + reverse("validation-run-page", args=[loop.run.pk])
    browser.get(trust_url)
    ci = proportion_ci(share["correct"], share["n"])
    assert _response_type_headline(browser) == headline(estimate=ci.estimate, half_width=ci.half_width, n=share["n"])

    browser.get(live_app.url + reverse("adjudication-list-page") + f"?run={loop.run.pk}")
    open_before = int(browser.find_element(By.ID, "open-count").text)
    assert "Says correct but changes the output" in browser.find_element(By.TAG_NAME, "body").text
    screenshot("adjudication list")
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#adjudication-queue tr")
        if "sample-001" in r.text and "response_type" in r.text
    )
    row.find_element(By.TAG_NAME, "a").click()
    reviews = browser.find_element(By.ID, "reviews").text
    for email in ("reviewer-ada@example.org", "reviewer-grace@example.org", "reviewer-alan@example.org"):
        assert email in reviews
    browser.find_element(By.ID, "verdict-incorrect").click()
    labels = browser.find_element(By.ID, "labels")
    labels.clear()
    labels.send_keys("neutral_acknowledgment")  # what ada and alan labelled while saying "correct"
    screenshot("adjudication of sample-001 response type")
    _submit_and_wait(browser, browser.find_element(By.ID, "adjudicate"))
    assert "sample-001 / response_type: settled." in browser.find_element(By.TAG_NAME, "body").text

    browser.get(live_app.url + reverse("adjudication-list-page") + f"?run={loop.run.pk}")
    assert int(browser.find_element(By.ID, "open-count").text) == open_before - 1
    browser.get(trust_url)
    _submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))  # a snapshot now
    ci = proportion_ci(share["correct"] - 1, share["n"])
    assert _response_type_headline(browser) == headline(estimate=ci.estimate, half_width=ci.half_width, n=share["n"])
    assert "Outputs adjudicated by a lead: 1." in browser.find_element(By.ID, "adjudication-summary").text
    screenshot("trust page after adjudication")
    network.assert_local()
