"""The user's roles for every template, so that menus show only what the user may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.roles import ANALYSTS, ANY_ROLE, Role


def roles(request: HttpRequest) -> dict[str, Any]:
    """``has_role``, ``is_analyst`` and ``is_lead`` (one query; superusers hold every role)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"has_role": False, "is_analyst": False, "is_lead": False}
    held = set(ANY_ROLE) if user.is_superuser else set(user.groups.values_list("name", flat=True))
    return {
        "has_role": bool(held & set(ANY_ROLE)),
        "is_analyst": bool(held & set(ANALYSTS)),
        "is_lead": str(Role.LEAD) in held,
    }
