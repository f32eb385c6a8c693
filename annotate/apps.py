from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AnnotateConfig(AppConfig):
    name = "annotate"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotate.selectors import sqlite_functions_add

        connection_created.connect(sqlite_functions_add, dispatch_uid="annotate-sqlite-functions")
