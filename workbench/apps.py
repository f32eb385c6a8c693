from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    """The pages that read several apps. It imports the step-apps; none of them imports it."""

    name = "workbench"
    default_auto_field = "django.db.models.BigAutoField"
