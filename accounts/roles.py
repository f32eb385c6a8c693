"""The three roles of the product, stored as Django groups: one vocabulary, one DRF permission, one page decorator.

- annotators review extracted values in Label Studio;
- leads track agreement and reliability and decide when a labelling run can be trusted;
- prompt engineers iterate on extraction prompts and compare versions.

Superusers pass every role check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
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


#: Who reads and writes the trust figures, runs and analyses: leads and prompt engineers.
ANALYSTS: tuple[str, ...] = (Role.LEAD, Role.PROMPT_ENGINEER)
#: Everyone with a role (annotators included).
ANY_ROLE: tuple[str, ...] = (Role.ANNOTATOR, Role.LEAD, Role.PROMPT_ENGINEER)

IsAnalyst = HasRole.of(*ANALYSTS)
IsLead = HasRole.of(Role.LEAD)
HasAnyRole = HasRole.of(*ANY_ROLE)

View = Callable[..., HttpResponse]


def role_required(*roles: str) -> Callable[[View], View]:
    """Page decorator: log in first (redirect), then 403 unless the user holds one of ``roles``."""
    names = " and ".join(str(r).replace("_", " ") + "s" for r in roles)

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_has_role(request.user, *roles):
                raise PermissionDenied(f"{names} only")
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorate


analyst_required = role_required(*ANALYSTS)
