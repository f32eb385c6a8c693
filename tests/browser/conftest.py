"""Fixtures of the browser tests: Debian's headless Chromium, driven by Selenium, against the app on a live server.

- ``browser``: a Chrome driver on /usr/bin/chromedriver (``scripts/install_browser.sh`` installs both). Without them
  the test is skipped locally and fails in CI (``tests.conftest.missing_service``).
- ``live_app``: pytest-django's ``live_server``; it serves static files from the apps' static folders too
  (``StaticFilesHandler``), as ``runserver`` and WhiteNoise do.
- ``login_as(role)``: a new user in the role's group, logged in through the login page.
- ``network``: every request the page made, from Chrome's DevTools performance log; it fails the test when one left
  127.0.0.1/localhost (nothing a page loads may come from outside the app).
- ``screenshot(label)``: a PNG of the whole page at ``var/screenshots/<test>[--<label>].png``, kept as an artifact.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.urls import reverse

from accounts.roles import user_add_role
from tests.conftest import REPO_ROOT, missing_service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Schemes that never reach a network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-extension", "devtools"})
# Without the networking flags Chromium calls home (updates, sync, field trials), which the closed network refuses.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)
MAX_SCREENSHOT_HEIGHT = 6000  # px: a long table page is cut there rather than making a huge file
PASSWORD = "browser-test-password"  # a test user's, on a throw-away database


@pytest.fixture
def browser() -> Iterator[Any]:
    """A fresh headless Chromium (its own profile directory) with the performance log on; quit after the test."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing_service("selenium is not installed: pip install -r requirements-dev.txt")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        missing_service(f"{CHROMIUM} or {CHROMEDRIVER} is missing: run scripts/install_browser.sh as root")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.fail(f"Chromium did not start through {CHROMEDRIVER}: {exc.msg}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def live_app(live_server: Any) -> Any:
    """The app on pytest-django's live server (``live_app.url`` is ``http://localhost:PORT``)."""
    return live_server


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOCAL_HOSTS


class NetworkLog:
    """The requests a page made and the status of each document it loaded, read from the DevTools performance log.

    Chrome hands each log entry out once: ``collect`` reads what is new and keeps it in ``requests``.
    """

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.requests: list[str] = []
        self.document_status: dict[str, int] = {}

    def collect(self) -> list[str]:
        new: list[str] = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message.get("method") == "Network.requestWillBeSent":
                new.append(params["request"]["url"])
            elif message.get("method") == "Network.responseReceived" and params.get("type") == "Document":
                self.document_status[params["response"]["url"]] = int(params["response"]["status"])
        self.requests.extend(new)
        return new

    def external(self) -> list[str]:
        self.collect()
        return [url for url in self.requests if not is_local(url)]

    def assert_local(self) -> None:
        outside = self.external()
        assert not outside, f"requests that left the machine: {outside}"

    def status_of(self, url: str) -> int | None:
        """The HTTP status of the document at ``url`` (after redirects: the last one loaded there)."""
        self.collect()
        return self.document_status.get(url)

    def open(self, url: str, *, wait_s: float = 10.0) -> int | None:
        """Load ``url`` in the browser and return the status of this load, not of an earlier one.

        The DevTools log can deliver a document's response after ``get`` returns (on a busy machine): the status
        an earlier load of the same URL left behind is forgotten first, and the new one awaited."""
        self.collect()
        self.document_status.pop(url, None)
        self.driver.get(url)
        deadline = time.monotonic() + wait_s
        while (status := self.status_of(url)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return status


@pytest.fixture
def network(browser: Any) -> Iterator[NetworkLog]:
    log = NetworkLog(browser)
    yield log
    log.assert_local()


_users = itertools.count()


@pytest.fixture
def login_as(browser: Any, live_app: Any) -> Callable[..., AbstractUser]:
    """``login_as(role, staff=False)``: a new user in ``role``'s group (None: no role), logged in through the form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    login_path = reverse("login")

    def login(role: str | None, *, staff: bool = False) -> AbstractUser:
        user = get_user_model().objects.create_user(
            username=f"{role or 'no-role'}-{next(_users)}", password=PASSWORD, is_staff=staff
        )
        if role:
            user_add_role(user=user, role=role)
        browser.delete_all_cookies()
        browser.get(live_app.url + login_path)
        browser.find_element(By.NAME, "username").send_keys(user.username)
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda d: urlsplit(d.current_url).path != login_path)
        return user

    return login


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150]


@pytest.fixture
def screenshot(browser: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``screenshot(label="")``: the whole page (up to MAX_SCREENSHOT_HEIGHT px) as a PNG under var/screenshots/.

    The test's screenshots of an earlier run are removed first, so the folder shows the last run only."""
    prefix = _file_name(request.node.name)
    for old in [*SCREENSHOTS.glob(f"{prefix}.png"), *SCREENSHOTS.glob(f"{prefix}--*.png")]:
        old.unlink()

    def save(label: str = "") -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = prefix + (f"--{_file_name(label)}" if label else "")
        metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics["cssContentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], MAX_SCREENSHOT_HEIGHT),
            "scale": 1,
        }
        shot = browser.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    return save
