"""The lead's pages in headless Chromium: descriptive results, the filtered dataset page, residual cells' links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from accounts.roles import Role
from tests.browser.conftest import NetworkLog
from tests.pages import build_loop

pytestmark = [pytest.mark.slow]


def test_a_lead_follows_a_residual_cell_to_its_conversations(
    transactional_db: None,
    browser: Any,
    live_app: Any,
    login_as: Callable[..., Any],
    network: NetworkLog,
    screenshot: Callable[[str], Any],
) -> None:
    loop = build_loop()
    login_as(Role.LEAD)
    browser.get(live_app.url + reverse("descriptive-page") + "?dataset=alpha")
    assert browser.find_element(By.CSS_SELECTOR, "#ai_values table")
    screenshot("descriptive")
    browser.get(live_app.url + reverse("residual-page", args=[loop.residuals.pk]))
    screenshot("residuals")
    browser.find_element(By.CSS_SELECTOR, 'a[title="The conversations of this cell"][href*="empathy"]').click()
    rows = browser.find_elements(By.CSS_SELECTOR, "table tr td:first-child a")
    assert [r.text for r in rows] == [f"alpha-{i:02d}" for i in range(10)]
    screenshot("cell-conversations")
    network.assert_local()
