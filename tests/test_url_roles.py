"""Every route of the URL configuration answers as the README's role matrix says, so that a new page or endpoint
without a role check, or without a row in the matrix, fails the suite.

Each route is requested with GET and POST as an anonymous visitor, a signed-in account without a role, an annotator,
a prompt engineer, a lead, a staff account without a role and a superuser, with real objects of the small loop in its
path (tests/pages.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.models import ReviewSample
from extraction.models import PromptVersion
from taxonomy.models import TaxonomyNode
from tests.pages import Loop, build_loop
from tests.url_roles import ACCESS, Entry, Route, matrix_from_readme, route_violations, routes
from validation.services import gold_set_create_from_reviews

pytestmark = pytest.mark.django_db

#: Sample values by the name of a path parameter, where one object fits every route that takes it.
GENERIC = {
    "run_id": "run",
    "sample_id": "sample",
    "extraction_id": "extraction",
    "name": "paper-v1",
    "object_id": "1",
    "content_type_id": "1",
    "id": "1",
    "app_label": "auth",
    "url": "no-such-page/",
    "uidb64": "MQ",
    "token": "set-password",
}
#: What ``pk`` means, by the route's name (its prefix).
PK_OF = {
    "dataset-page": "dataset",
    "conversation-page": "conversation",
    "validation-snapshot": "snapshot",
    "validation-gold-set": "gold_set",
    "taxonomy-node": "node",
    "taxonomy": "taxonomy",
    "residual": "residuals",
    "prompt-version": "prompt_version",
    "prompt-run": "run",
}


def _objects(loop: Loop) -> dict[str, Any]:
    node = TaxonomyNode.objects.create(taxonomy=loop.taxonomy, key="c0", level=1, name="Caring", size=1)
    gold = gold_set_create_from_reviews(name="url roles", run_id=loop.run.pk)
    return {
        "run": loop.run.pk,
        "sample": ReviewSample.objects.get(run=loop.run).pk,
        "extraction": loop.parse_error.pk,
        "dataset": loop.alpha.pk,
        "conversation": loop.conversations[0].pk,
        "snapshot": loop.snapshot.pk,
        "gold_set": gold.pk,
        "node": node.pk,
        "taxonomy": loop.taxonomy.pk,
        "residuals": loop.residuals.pk,
        "prompt_version": PromptVersion.objects.order_by("pk").values_list("pk", flat=True).first(),
    }


def _sampler(objects: dict[str, Any]) -> Any:
    def sample_kwargs(route: Route) -> dict[str, Any]:
        kwargs = {key: objects.get(value, value) for key, value in GENERIC.items()}
        pk_kind = next((kind for prefix, kind in PK_OF.items() if (route.name or "").startswith(prefix)), None)
        kwargs["pk"] = objects[pk_kind] if pk_kind else 1
        return kwargs

    return sample_kwargs


def test_every_route_follows_the_role_matrix_of_the_readme() -> None:
    matrix = matrix_from_readme()
    problems = route_violations(matrix=matrix, sample_kwargs=_sampler(_objects(build_loop())))
    assert problems == [], "\n".join(problems)


def test_the_matrix_covers_every_route_and_every_role() -> None:
    matrix = matrix_from_readme()
    assert len(matrix) >= 60
    used = {e.read for e in matrix.values()} | {e.write for e in matrix.values()}
    assert set(ACCESS) <= used  # every level of access is exercised by some route
    assert matrix["api/annotate/webhooks/label-studio/"] == Entry("—", "webhook secret")
    assert matrix["admin/*"] == Entry("staff", "staff")
    assert {r.route for r in routes()} >= {"api/schema/", "api/docs/", "validation/runs/<int:run_id>/targets/"}


# ------------------------------------------------------------------------------------------------ planted routes
# A URL configuration of its own (this module's ``urlpatterns``) with a page and an endpoint that check no role: the
# helper must report each, whether the matrix lacks them or claims a role for them.


def _unguarded_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no role check here")


class _LoginOnlyApi(APIView):
    permission_classes = [IsAuthenticated]  # a login, not a role: a user without a role gets through

    def get(self, request: Request) -> Response:
        return Response({"secret": "data"})


urlpatterns = [
    path("planted/", _unguarded_page, name="planted-page"),
    path("api/planted/", _LoginOnlyApi.as_view(), name="planted-api"),
]


def _planted(route: Route) -> dict[str, Any]:
    return {}


@override_settings(ROOT_URLCONF=__name__)
def test_a_new_route_without_a_matrix_row_is_reported() -> None:
    problems = route_violations(matrix=matrix_from_readme(), sample_kwargs=_planted, urlconf=None)
    assert "new route /planted/ (planted-page) has no role entry in the README" in problems
    assert "new route /api/planted/ (planted-api) has no role entry in the README" in problems
    assert "role matrix row /api/docs/ matches no route" in problems  # rows of routes that went away, too


@override_settings(ROOT_URLCONF=__name__)
def test_a_route_without_a_role_check_is_reported() -> None:
    matrix = {"planted/": Entry("lead", "—"), "api/planted/": Entry("any role", "—")}
    problems = route_violations(matrix=matrix, sample_kwargs=_planted)
    assert "GET /planted/ as anonymous: expected a redirect to the login page, got 200" in problems
    assert "GET /planted/ as annotator: expected 403, got 200" in problems
    assert "GET /api/planted/ as no role: expected 403, got 200" in problems
    assert "POST /api/planted/ as no role: expected 403, got 405" in problems
    assert not [p for p in problems if "/api/planted/ as anonymous" in p]  # IsAuthenticated does refuse them
