"""The three roles of the product, stored as Django groups, and the DRF permission that checks them.

- annotators review extracted values in Label Studio;
- leads track agreement and reliability and decide when a labelling run can be trusted;
- prompt engineers iterate on extraction prompts and compare versions.

Superusers pass every role check.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import models
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class Role(models.TextChoices):
    ANNOTATOR = "annotator", "Annotator"
    LEAD = "lead", "Lead"
    PROMPT_ENGINEER = "prompt_engineer", "Prompt engineer"


def user_has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    """True when the user is authenticated and is a superuser or in one of ``roles``."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return Group.objects.filter(user=user, name__in=roles).exists()  # type: ignore[misc]


def user_add_role(*, user: Any, role: Role | str) -> None:
    group, _ = Group.objects.get_or_create(name=str(role))
    user.groups.add(group)


class HasRole(BasePermission):
    """DRF permission: ``permission_classes = [HasRole.of(Role.LEAD, Role.PROMPT_ENGINEER)]``."""

    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, *roles: str) -> type[HasRole]:
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": tuple(str(r) for r in roles)})

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_has_role(request.user, *self.roles)
