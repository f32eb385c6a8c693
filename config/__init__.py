"""Project configuration: settings, the Celery app and the root URLs."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
