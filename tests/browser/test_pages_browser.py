"""Every page a role can reach from its dashboard, opened in headless Chromium as that role.

The pages are found the way a person finds them: by following the links of the dashboard and of the pages it links
to (two clicks deep, staying on the app), not from a list kept by hand. Each page must answer 200 without an error
page, load nothing from outside 127.0.0.1, and leave a screenshot under var/screenshots/. The pages a lead reaches
that an annotator's or a role-less user's own links do not lead to must answer 403 in the site's layout.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.urls import Resolver404, resolve
from selenium.webdriver.common.by import By

from accounts.roles import Role
from tests.browser.conftest import NetworkLog
from tests.pages import build_loop

pytestmark = [pytest.mark.slow]

ROLES = [Role.ANNOTATOR, Role.LEAD, Role.PROMPT_ENGINEER, None]
DEPTH = 2  # the dashboard's links, and the links of those pages
PER_VIEW = 2  # pages opened per view (two datasets, two conversations, ...), enough to see each page's shape
ERROR_TEXTS = ("Server Error", "Traceback", "TemplateSyntaxError", "Page not found")
# Links a crawl must not follow: logging out ends the session it crawls with.
SKIP_PATHS = ("/accounts/logout/",)


@pytest.fixture
def loop(transactional_db: None) -> Any:
    """Two datasets, a run with its extractions, reviews, an agreement snapshot, a taxonomy, a residual analysis."""
    return build_loop()


def _normal(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _view_name(url: str) -> str:
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return urlsplit(url).path
    return match.view_name or match.route


def _links(browser: Any, origin: str) -> list[str]:
    """The page's links that stay on the app, without fragments, downloads or logout."""
    found = []
    for anchor in browser.find_elements(By.CSS_SELECTOR, "a[href]"):
        if anchor.get_dom_attribute("download") is not None:
            continue
        url = _normal(anchor.get_attribute("href") or "")
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == origin and not parts.path.startswith(SKIP_PATHS):
            found.append(url)
    return found


def _probe(browser: Any, url: str) -> tuple[int, str]:
    """Status and content type of ``url``, asked with the page's own session (a download must not open as a page)."""
    script = (
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-type') || '']))"
        ".catch(e => done([0, String(e)]));"
    )
    status, content_type = browser.execute_async_script(script, url)
    return int(status), str(content_type)


def crawl(
    browser: Any, network: NetworkLog, origin: str, on_page: Callable[[str], None] | None = None
) -> dict[str, int | None]:
    """Open the dashboard and follow its links ``DEPTH`` deep, ``PER_VIEW`` pages per view; url -> HTTP status.

    ``on_page(url)`` runs on each HTML page that answered 200, while it is open."""
    seen: dict[str, int | None] = {}
    per_view: Counter[str] = Counter()
    queue: deque[tuple[str, int]] = deque([(origin + "/", 0)])
    while queue:
        url, depth = queue.popleft()
        view = _view_name(url)
        if url in seen or per_view[view] >= PER_VIEW:
            continue
        per_view[view] += 1
        status, content_type = _probe(browser, url)
        if "text/html" not in content_type:
            seen[url] = status
            continue
        seen[url] = network.open(url)
        if seen[url] != 200:
            continue
        if on_page:
            on_page(url)
        if depth < DEPTH:
            queue.extend((link, depth + 1) for link in _links(browser, origin))
    return seen


def _charts_drawn(browser: Any, url: str) -> int:
    """Each chart on the page is an SVG on screen with at least one data mark when its numbers table has rows."""
    figures = browser.find_elements(By.CSS_SELECTOR, "figure.chart")
    for figure in figures:
        title = figure.find_element(By.TAG_NAME, "figcaption").text
        svg = figure.find_element(By.CSS_SELECTOR, ".chart-body svg")
        assert min(svg.size["width"], svg.size["height"]) > 0, f"{url}: chart {title!r} takes no space"
        marks = len(svg.find_elements(By.CSS_SELECTOR, ".mark"))
        rows = figure.find_elements(By.CSS_SELECTOR, ".chart-numbers tr td:not(.muted)")
        if rows:
            assert marks > 0, f"{url}: chart {title!r} has numbers but draws no mark"
    return len(figures)


class PageLabels:
    """Stable screenshot names: the page's view and its rank among the pages of that view (ids change every run)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.per_view: Counter[str] = Counter()

    def __call__(self, url: str) -> str:
        if url not in self.seen:
            view = _view_name(url).strip("/").replace("/", "_") or "root"
            self.per_view[view] += 1
            self.seen[url] = f"{view}-{self.per_view[view]}"
        return self.seen[url]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
def test_every_page_a_role_reaches_opens_offline(
    loop: Any, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any, role: str | None
) -> None:
    login_as(role)
    origin = live_app.url
    charts: Counter[str] = Counter()
    label = PageLabels()

    def check(url: str) -> None:
        text = browser.find_element(By.TAG_NAME, "body").text
        assert not [t for t in ERROR_TEXTS if t in text], f"{url} shows an error page"
        assert browser.find_elements(By.CSS_SELECTOR, "nav a[href='/']"), f"{url} is outside the site's layout"
        charts[_view_name(url)] += _charts_drawn(browser, url)
        screenshot(label(url))
        network.assert_local()

    pages = crawl(browser, network, origin, on_page=check)
    failures = {url: status for url, status in pages.items() if status != 200}
    assert not failures, f"pages linked for {role} that do not open: {failures}"
    assert origin + "/" in pages
    if role in (Role.LEAD, Role.PROMPT_ENGINEER):
        # the pages of the whole loop are in reach of those who run it
        views = {_view_name(url) for url in pages}
        assert {"dataset-page", "conversation-page", "extraction-run-page", "validation-run-page"} <= views, views
        assert {"taxonomy-detail-page", "residual-page"} <= views, views
        assert charts["validation-run-page"] > 0, charts  # the agreement page draws its figures


@pytest.mark.parametrize("role", [Role.ANNOTATOR, None], ids=lambda r: r or "no-role")
def test_pages_beyond_a_roles_links_answer_403_in_the_sites_layout(
    loop: Any, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any, role: str | None
) -> None:
    origin = live_app.url
    login_as(Role.LEAD)
    lead_pages = crawl(browser, network, origin)
    login_as(role)
    own_pages = crawl(browser, network, origin)
    beyond = sorted(url for url in lead_pages if url not in own_pages and "/api/" not in url)
    assert len(beyond) >= 4, beyond  # dataset, conversation, run and agreement pages at least
    for url in beyond:
        assert network.open(url) == 403, url
        assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed", url
        assert browser.find_elements(By.CSS_SELECTOR, "nav a[href='/']"), f"{url}: 403 outside the site's layout"
    screenshot("403")


def test_a_missing_page_answers_404_in_the_sites_layout(
    loop: Any, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any
) -> None:
    login_as(Role.LEAD)
    url = f"{live_app.url}/datasets/999999/"
    assert network.open(url) == 404
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "/datasets/999999/" in browser.find_element(By.TAG_NAME, "body").text
    assert browser.find_elements(By.CSS_SELECTOR, "nav a[href='/']")
    screenshot()


@pytest.mark.parametrize("staff", [False, True], ids=["lead", "staff-lead"])
def test_the_admin_link_is_shown_to_staff_only(
    transactional_db: None, browser: Any, network: NetworkLog, login_as: Any, staff: bool
) -> None:
    login_as(Role.LEAD, staff=staff)
    admin_links = browser.find_elements(By.CSS_SELECTOR, "nav a[href='/admin/']")
    assert len(admin_links) == (1 if staff else 0)


def test_pages_read_at_a_phone_width(
    loop: Any, browser: Any, network: NetworkLog, login_as: Any, live_app: Any, screenshot: Any
) -> None:
    """With the viewport meta tag a 390 px wide phone lays each page out at 390 CSS px (not a shrunken 980 px), and
    wide tables and charts scroll inside their own box rather than the page scrolling sideways."""
    login_as(Role.LEAD)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    )
    origin = live_app.url
    too_wide: dict[str, int] = {}
    label = PageLabels()

    def check(url: str) -> None:
        assert browser.execute_script("return document.documentElement.clientWidth") == 390, url
        font_px = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
        assert font_px >= 16, url
        width = browser.execute_script("return document.documentElement.scrollWidth")
        if width > 390:
            too_wide[url] = width
        screenshot(label(url))

    pages = crawl(browser, network, origin, on_page=check)
    assert len(pages) >= 8
    assert not too_wide, f"pages wider than the phone: {too_wide}"
