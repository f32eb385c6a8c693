"""The site's layout (templates/base.html) and what every page gets from it: the viewport, the menu, 403 and 404 pages,
and the API docs served from the app's own static files."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from tests.pages import client_as

pytestmark = pytest.mark.django_db

VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
MENU_HOME = '<nav><a href="/">Home</a>'


def test_every_page_of_the_layout_sets_the_viewport_for_small_screens() -> None:
    assert VIEWPORT in Client().get(reverse("login")).content.decode()
    assert VIEWPORT in client_as(Role.LEAD).get(reverse("home")).content.decode()


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.LEAD, Role.PROMPT_ENGINEER, None])
def test_the_admin_link_is_hidden_from_users_who_cannot_use_the_admin(role: str | None) -> None:
    text = client_as(role).get(reverse("home")).content.decode()
    assert 'href="/admin/"' not in text
    assert ('href="/api/docs/"' in text) == (role is not None)  # no menu entry that would answer 403


def test_staff_see_the_admin_link() -> None:
    staff = get_user_model().objects.create_user(username="staff", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert 'href="/admin/"' in client.get(reverse("home")).content.decode()


def test_the_login_page_offers_no_link_that_needs_a_login() -> None:
    text = Client().get(reverse("login")).content.decode()
    assert 'href="/admin/"' not in text
    assert 'href="/api/docs/"' not in text


@pytest.mark.parametrize("role", [Role.ANNOTATOR, None])
def test_a_forbidden_page_answers_403_in_the_sites_layout_with_the_reason(role: str | None) -> None:
    from tests.validation import factories as f

    dataset = f.DatasetFactory.create(name="alpha")
    response = client_as(role).get(reverse("dataset-page", args=[dataset.pk]))
    assert response.status_code == 403
    assert "403.html" in [t.name for t in response.templates]
    text = response.content.decode()
    assert MENU_HOME in text
    assert "<h1>Not allowed</h1>" in text
    assert "leads and prompt engineers only" in text


@pytest.mark.parametrize("path", ["/datasets/999999/", "/no-such-page/"])
def test_a_missing_page_answers_404_in_the_sites_layout(path: str) -> None:
    response = client_as(Role.LEAD).get(path)
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    text = response.content.decode()
    assert MENU_HOME in text
    assert "<h1>Not found</h1>" in text
    assert f"<code>{path}</code>" in text


def test_the_api_docs_load_swagger_ui_from_the_apps_static_files() -> None:
    client = client_as(Role.ANNOTATOR)
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "cdn.jsdelivr.net" not in text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}" in text
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{asset}"), asset
    assert "<script>" not in text  # its start-up script is a file (?script), so a strict CSP can allow it
    script = client.get(reverse("api-docs") + "?script=").content.decode()
    assert '"validatorUrl": null' in script  # no schema sent to validator.swagger.io


def test_the_api_docs_need_a_login() -> None:
    assert Client().get(reverse("api-docs")).status_code in (401, 403)


def test_the_api_docs_and_schema_need_a_role() -> None:
    client = client_as(None)
    assert client.get(reverse("api-docs")).status_code == 403
    assert client.get(reverse("schema")).status_code == 403


def test_the_layout_and_error_pages_carry_no_inline_style_or_script() -> None:
    """The layout's styles come from a static file, so a Content-Security-Policy allowing only the app's own styles
    and scripts keeps them."""
    lead = client_as(Role.LEAD)
    pages = [
        Client().get(reverse("login")),
        client_as(Role.ANNOTATOR).get(reverse("home")),
        lead.get("/no-such-page/"),
        client_as(None).get(reverse("taxonomy-list-page")),
    ]
    for response in pages:
        text = response.content.decode()
        assert "/static/workbench/site.css" in text, response.request["PATH_INFO"]
        for inline in ("<style", "style=", "<script"):
            assert inline not in text, (response.request["PATH_INFO"], inline)


ANALYST_MENU = ("taxonomy-list-page", "descriptive-page", "residual-list-page", "prompt-set-list")


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.LEAD, Role.PROMPT_ENGINEER])
def test_the_menu_offers_each_role_its_pages_and_every_link_opens(role: str) -> None:
    import re

    client = client_as(role)
    text = client.get(reverse("home")).content.decode()
    menu = text[text.index("<nav>") : text.index("</nav>")]
    analyst = role != Role.ANNOTATOR
    for name in ANALYST_MENU:
        assert (f'href="{reverse(name)}"' in menu) == analyst
    links = re.findall(r'<a href="([^"]+)"', menu)
    assert len(links) == (6 if analyst else 2)  # home, the analyst pages, the API docs
    assert all(client.get(href).status_code == 200 for href in links)


def test_breadcrumbs_lead_from_a_conversation_back_through_agreement_and_run_to_the_dataset() -> None:
    from tests.pages import build_loop

    loop = build_loop()
    client = client_as(Role.LEAD)
    conversation = loop.conversations[0]
    dataset_url = reverse("dataset-page", args=[conversation.dataset_id])
    run_url = reverse("extraction-run-page", args=[loop.run.pk])
    agreement_url = reverse("validation-run-page", args=[loop.run.pk])
    conversation_url = reverse("conversation-page", args=[conversation.pk])
    listed = client.get(f"{dataset_url}?run={loop.run.pk}").content.decode()
    assert f'href="{conversation_url}?run={loop.run.pk}"' in listed
    page = client.get(f"{conversation_url}?run={loop.run.pk}").content.decode()
    crumbs = page[page.index('<p class="muted">') : page.index("</p>", page.index('<p class="muted">'))]
    hrefs = [crumbs.index(f'href="{url}"') for url in (dataset_url, run_url, agreement_url)]
    assert hrefs == sorted(hrefs)
    plain = client.get(conversation_url).content.decode()
    plain_crumbs = plain[plain.index('<p class="muted">') : plain.index("</p>", plain.index('<p class="muted">'))]
    assert f'href="{dataset_url}"' in plain_crumbs
    assert f'href="{run_url}"' not in plain_crumbs  # without a run to come from, the trail is dataset -> conversation
    assert f'href="{dataset_url}"' in client.get(run_url).content.decode()


@pytest.mark.django_db
def test_no_page_carries_inline_style_or_script_and_the_policy_allows_none(admin_client: Client) -> None:
    """The Content-Security-Policy allows only the app's own scripts and styles, so every page (each of the page
    test's URLs, and the API docs) must keep its styles and scripts in files."""
    from django.conf import settings

    from tests.pages import build_loop
    from tests.test_pages import _urls

    assert "unsafe-inline" not in settings.CONTENT_SECURITY_POLICY
    assert "style-src 'self'" in settings.CONTENT_SECURITY_POLICY
    urls = [url for variants in _urls(build_loop()).values() for url in variants] + [reverse("api-docs")]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY, url
        if not response["Content-Type"].startswith("text/html"):
            continue  # a download (a prompt set as files, a CSV)
        text = response.content.decode()
        for inline in ("style=", "<style", "<script>"):
            assert inline not in text, (url, inline)
        assert "<script " not in text.replace("<script src=", ""), url
