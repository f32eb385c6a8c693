"""API clients of the analysis endpoint tests: one new user per call, with the role given."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.roles import user_add_role


def client_for(django_user_model, role: str | None) -> APIClient:  # type: ignore[no-untyped-def]
    """A client authenticated as a new user ``user-<role>`` (the name the edit history shows)."""
    user = django_user_model.objects.create_user(f"user-{role}")
    if role:
        user_add_role(user=user, role=role)
    client = APIClient()
    client.force_authenticate(user)
    return client
