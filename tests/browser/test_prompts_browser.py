"""The prompt engineer's loop in headless Chromium: a candidate made in the browser, run from recorded responses.

Also: an annotator is refused every prompt page. Screenshots of each page go to var/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.roles import Role
from extraction.models import ExtractionRun, RunStatus
from tests.browser.conftest import NetworkLog
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow]

ADDED = " Name at most five values. (written for tests)"


@pytest.fixture(autouse=True)
def eager_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started from the page execute in the request (no broker here), whatever an earlier test left set."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def sample(transactional_db: None, settings: Any, tmp_path: Path) -> None:
    settings.EXTRACTION_CANDIDATES_DIR = tmp_path / "candidates"
    call_command("import_conversations", str(REPO_ROOT / "sample" / "conversations.jsonl"), dataset="sample")


def _wait_text(browser: Any, text: str, timeout: float = 60) -> None:
    """Wait until the page shows ``text`` (the page may be replaced while it is read: a new page, a reload)."""
    wait = WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: text in d.find_element(By.TAG_NAME, "body").text)


def test_a_prompt_engineer_makes_a_candidate_and_runs_it_from_recorded_responses(
    sample: None, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any
) -> None:
    login_as(Role.PROMPT_ENGINEER)
    browser.get(live_app.url + reverse("prompt-set-list"))
    screenshot("list")
    browser.find_element(By.LINK_TEXT, "paper-v1").click()
    _wait_text(browser, "Prompt set paper-v1")
    screenshot("set")
    browser.find_element(By.CSS_SELECTOR, "a[href$='candidate/?feature=ai_values']").click()
    name = browser.find_element(By.NAME, "name")
    name.clear()
    name.send_keys("paper-v1-five")
    browser.find_element(By.ID, "id_text").send_keys(ADDED)
    screenshot("candidate")
    browser.find_element(By.CSS_SELECTOR, "#candidate-form button").click()
    _wait_text(browser, "Estimated cost before it runs")
    Select(browser.find_element(By.NAME, "dataset")).select_by_value("sample")
    limit = browser.find_element(By.NAME, "limit")
    limit.clear()
    limit.send_keys("10")
    browser.find_element(By.CSS_SELECTOR, "form[method=get] button").click()
    _wait_text(browser, "Total on 10 conversations")
    assert "characters / 4" in browser.find_element(By.TAG_NAME, "body").text
    screenshot("estimate")
    browser.find_element(By.CSS_SELECTOR, "#run-form input[name=how][value=replay]").click()
    browser.find_element(By.CSS_SELECTOR, "#run-form button").click()
    _wait_text(browser, "Succeeded")
    run = ExtractionRun.objects.get(prompt_set="paper-v1-five")
    assert run.status == RunStatus.SUCCEEDED
    assert browser.find_element(By.ID, "replayed-from-base").is_displayed()
    screenshot("run")
    browser.find_element(By.LINK_TEXT, "paper-v1-five").click()
    _wait_text(browser, "candidate made from paper-v1")
    browser.find_element(By.PARTIAL_LINK_TEXT, "diff against paper-v1").click()
    _wait_text(browser, "Diff of two prompt versions")
    added = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".diff .add")]
    assert any(ADDED.strip() in line for line in added), added
    screenshot("diff")
    browser.back()
    versions = browser.find_elements(By.CSS_SELECTOR, "a[href*='/prompts/versions/']")
    assert versions
    versions[0].click()
    _wait_text(browser, "Rendered request")
    assert ADDED.strip() in browser.find_element(By.CSS_SELECTOR, "pre.prompt-text").text
    screenshot("version")
    browser.get(live_app.url + reverse("prompt-diff-page"))
    screenshot("diff-empty")


def test_an_annotator_is_refused_the_prompt_pages(
    sample: None, browser: Any, network: NetworkLog, login_as: Any, live_app: Any
) -> None:
    login_as(Role.ANNOTATOR)
    for url in (
        reverse("prompt-set-list"),
        reverse("prompt-set-page", args=["paper-v1"]),
        reverse("prompt-candidate-page", args=["paper-v1"]),
        reverse("prompt-run-new", args=["paper-v1"]),
    ):
        assert network.open(live_app.url + url) == 403, url
        assert "Prompt set" not in browser.find_element(By.TAG_NAME, "body").text


@pytest.fixture
def gold(transactional_db: None, settings: Any, tmp_path: Path) -> Any:
    from tests.validation.demo_loop import demo_loop
    from validation.services import gold_set_create_from_reviews

    settings.EXTRACTION_CANDIDATES_DIR = tmp_path / "candidates"
    return gold_set_create_from_reviews(name="demo", run_id=demo_loop().run.pk)


def test_a_candidate_run_on_a_gold_set_ends_in_the_comparison_grid_with_its_verdict(
    gold: Any, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any
) -> None:
    login_as(Role.PROMPT_ENGINEER)
    browser.get(live_app.url + reverse("prompt-candidate-page", args=["paper-v2"]) + "?feature=response_type")
    name = browser.find_element(By.NAME, "name")
    name.clear()
    name.send_keys("paper-v2-c1")
    browser.find_element(By.ID, "id_text").send_keys(
        " When unsure between two options, choose the milder. (written for tests)"
    )
    browser.find_element(By.CSS_SELECTOR, "#candidate-form button").click()
    _wait_text(browser, "Estimated cost before it runs")
    browser.find_element(By.CSS_SELECTOR, "#gold-form button").click()
    _wait_text(browser, "Gold set demo v1")
    screenshot("estimate-on-gold")
    browser.find_element(By.CSS_SELECTOR, "#run-form input[name=how][value=replay]").click()
    browser.find_element(By.CSS_SELECTOR, "#run-form button").click()
    _wait_text(browser, "Succeeded")
    assert browser.find_element(By.ID, "replayed-from-base").is_displayed()
    browser.find_element(By.ID, "compare-link").click()
    _wait_text(browser, "Conversations × versions")
    assert "no detectable difference" in browser.find_element(By.ID, "verdicts").text
    screenshot("grid-against-base")
    baseline = browser.find_element(By.NAME, "a")
    baseline.clear()
    baseline.send_keys("paper-v1/response_type")
    browser.find_element(By.CSS_SELECTOR, "#compare-form button").click()
    _wait_text(browser, "paper-v2-c1 against paper-v1/response_type")
    verdicts = browser.find_element(By.ID, "verdicts").text
    assert "response_type" in verdicts
    assert "no detectable difference" in verdicts
    screenshot("grid")
    browser.find_element(By.LINK_TEXT, "only differences").click()
    _wait_text(browser, "6 of 31 conversations")
    rows = browser.find_elements(By.CSS_SELECTOR, "#grid tr")[2:]
    assert len(rows) == 6
    for row in rows:  # each shown conversation is right under one side and wrong (or unanswered) under the other
        classes = [c.get_attribute("class") for c in row.find_elements(By.CSS_SELECTOR, "td.ok, td.wrong, td.none")]
        assert sorted(classes) in (["ok", "wrong"], ["none", "ok"]), classes
    screenshot("grid-differences")
