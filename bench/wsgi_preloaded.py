"""The app of config.wsgi with its URL configuration already imported, for gunicorn ``--preload``.

The load benchmark's gunicorn master loads this once, so its forked workers start with every view module in
memory instead of importing them on their first request (which, on a busy machine, can outlast the worker timeout).
"""

from django.urls import get_resolver

from config.wsgi import application

get_resolver().url_patterns  # noqa: B018 - imports every URL module now, before the workers fork

__all__ = ["application"]
