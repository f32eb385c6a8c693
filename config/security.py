"""The Content-Security-Policy header on every response (Django 5.2 has no built-in one).

The policy is the setting ``CONTENT_SECURITY_POLICY`` (env ``DJANGO_CONTENT_SECURITY_POLICY``): scripts,
styles, images, fonts and connections only from this site, no plugins, no framing, forms posted only here.
A view that sets its own header keeps it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.policy: str = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = self.policy
        return response
