"""A signed-in account without a role sees nothing but a page saying so; annotators do not read residual analyses.

These were open before: a user with no role read datasets, taxonomies, residual analyses and the API docs, and
annotators read residual analyses over the API although the pages refused them.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.roles import Role
from tests.pages import Loop, build_loop, client_as

pytestmark = pytest.mark.django_db

API_READS = [
    "/api/corpus/datasets/",
    "/api/analysis/taxonomies/",
    "/api/analysis/residuals/",
    "/api/schema/",
]


@pytest.fixture
def loop() -> Loop:
    return build_loop()


@pytest.mark.parametrize("url", API_READS)
def test_a_user_without_a_role_reads_nothing_over_the_api(loop: Loop, url: str) -> None:
    response = client_as(None).get(url)
    assert response.status_code == 403, (url, response.status_code)
    assert loop.alpha.name not in response.content.decode()


def test_a_user_without_a_role_gets_a_page_saying_so_and_no_data(loop: Loop) -> None:
    response = client_as(None).get(reverse("home"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "<h1>No role yet</h1>" in text
    assert loop.alpha.name not in text  # no dataset listed
    assert loop.taxonomy.name not in text
    assert 'href="/api/docs/"' not in text  # no menu entry it could not open
    for page in (reverse("taxonomy-list-page"), reverse("taxonomy-detail-page", args=[loop.taxonomy.pk])):
        assert client_as(None).get(page).status_code == 403, page


def test_annotators_do_not_read_residual_analyses_over_the_api(loop: Loop) -> None:
    annotator = client_as(Role.ANNOTATOR)
    assert annotator.get("/api/analysis/residuals/").status_code == 403
    assert annotator.get(f"/api/analysis/residuals/{loop.residuals.pk}/").status_code == 403
    assert annotator.get("/api/analysis/taxonomies/").status_code == 200  # the dashboard shows them taxonomies
    lead = client_as(Role.LEAD)
    assert lead.get(f"/api/analysis/residuals/{loop.residuals.pk}/").status_code == 200
