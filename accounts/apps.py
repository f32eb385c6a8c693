from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_role_groups(**kwargs: Any) -> None:
    """Create the role groups after every migrate (and after test flushes, which emit post_migrate)."""
    from django.contrib.auth.models import Group

    from accounts.roles import Role

    for role in Role:
        Group.objects.get_or_create(name=role.value)


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(create_role_groups, sender=self)
