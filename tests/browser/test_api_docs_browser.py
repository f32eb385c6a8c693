"""The API docs (Swagger UI) render in headless Chromium from the app's own files, with no request outside."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from accounts.roles import Role
from tests.browser.conftest import NetworkLog

pytestmark = [pytest.mark.slow]

SCHEMA_TAGS = ("corpus", "extraction", "annotate", "validation", "analysis")


def test_swagger_ui_renders_the_schema_offline(
    transactional_db: None, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any
) -> None:
    login_as(Role.ANNOTATOR)  # any user with a role may read the docs
    url = live_app.url + reverse("api-docs")
    assert network.open(url) == 200
    # Swagger UI draws one section per tag once it has fetched and parsed the schema.
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#swagger-ui .opblock-tag-section"))
    root = browser.find_element(By.ID, "swagger-ui")
    assert "Values in the Wild workbench API" in root.text
    tags = {e.get_attribute("data-tag") for e in root.find_elements(By.CSS_SELECTOR, ".opblock-tag")}
    assert set(SCHEMA_TAGS) <= tags, tags
    assert len(root.find_elements(By.CSS_SELECTOR, ".opblock")) >= 20  # every endpoint has its block
    assert not root.find_elements(By.CSS_SELECTOR, ".errors-wrapper"), "Swagger UI reports schema errors"
    requested = network.requests
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in r for r in requested)
    assert any(reverse("schema") in r for r in requested)
    network.assert_local()
    screenshot()
