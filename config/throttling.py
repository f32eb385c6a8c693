"""Throttling per user of the endpoints that start expensive work (runs, taxonomy builds, residual analyses, agreement
reports with bootstrap, Label Studio push and reconcile).

A view names its scope (``throttle_scope = "runs"``) and, when only some of its methods are expensive, which ones
count (``throttle_methods = ("POST",)``). The rate of each scope comes from ``settings.API_THROTTLE_RATES``
(``API_THROTTLE_RATES="runs=10/min,agreement=30/min"`` in the environment), read at each request so a change of
settings takes effect at once. The counts live in the Django cache: Redis in production (``CACHE_URL`` or
``REDIS_URL``), so every web process shares them; in-process memory in development and tests. Over the rate, DRF
answers 429 with ``Retry-After`` (seconds until the oldest counted request leaves the window).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle


class ExpensiveWorkThrottle(ScopedRateThrottle):
    """Scoped per user (per address for an anonymous caller, who is refused before any throttle anyway)."""

    def get_rate(self) -> str | None:
        rates: dict[str, str] = settings.API_THROTTLE_RATES
        return rates.get(str(self.scope)) or None

    def allow_request(self, request: Request, view: Any) -> bool:
        methods = getattr(view, "throttle_methods", None)
        if methods is not None and request.method not in methods:
            return True
        return super().allow_request(request, view)
