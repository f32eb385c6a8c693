"""Roles and authentication on the API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from accounts.roles import HasRole, Role, user_add_role, user_has_role

pytestmark = pytest.mark.django_db


def test_role_groups_exist_after_migrate() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {"annotator", "lead", "prompt_engineer"}


def test_user_has_role() -> None:
    user = User.objects.create_user("ann", password="pw-123456789")
    assert not user_has_role(user, Role.LEAD)
    user_add_role(user=user, role=Role.ANNOTATOR)
    assert user_has_role(user, Role.ANNOTATOR)
    assert not user_has_role(user, Role.LEAD, Role.PROMPT_ENGINEER)
    boss = User.objects.create_superuser("root", password="pw-123456789")
    assert user_has_role(boss, Role.LEAD)


def test_permission_class_checks_the_role() -> None:
    perm = HasRole.of(Role.LEAD)()
    user = User.objects.create_user("lead", password="pw-123456789")

    class Req:
        pass

    req = Req()
    req.user = user  # type: ignore[attr-defined]
    assert not perm.has_permission(req, None)  # type: ignore[arg-type]
    user_add_role(user=user, role=Role.LEAD)
    assert perm.has_permission(req, None)  # type: ignore[arg-type]


def test_api_requires_authentication() -> None:
    client = APIClient()
    assert client.get("/api/corpus/datasets/").status_code in (401, 403)
    assert client.get("/api/schema/").status_code in (401, 403)
    user = User.objects.create_user("u", password="pw-123456789")
    client.force_authenticate(user)
    assert client.get("/api/corpus/datasets/").status_code == 403  # signed in, but no role yet
    user_add_role(user=user, role=Role.ANNOTATOR)
    assert client.get("/api/corpus/datasets/").status_code == 200


def test_pages_require_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_logs_in_and_shows_home(client) -> None:  # type: ignore[no-untyped-def]
    User.objects.create_user("ann", password="pw-123456789")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-123456789"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
