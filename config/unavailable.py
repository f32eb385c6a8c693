"""503 with ``Retry-After`` when a service the request needs is down, on every page and endpoint.

Work is queued on the Celery broker, and the cache (API throttles, reports) may live in Redis. When the broker or
the cache does not answer, the view's call raises kombu's ``OperationalError`` or redis' ``ConnectionError`` /
``TimeoutError``: instead of a 500, the client gets 503, a ``Retry-After`` header (``SERVICE_RETRY_AFTER_S``) and
what is down: JSON under ``/api/``, the site's layout elsewhere. Whatever the view had written in a transaction
is rolled back as usual; queued work is started once (``jobs``), so a retry starts it afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.shortcuts import render
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

#: What each exception means for the person who sent the request.
_DOWN: tuple[tuple[type[BaseException], str], ...] = (
    (BrokerError, "the task queue (broker) is not reachable"),
    (RedisConnectionError, "the shared cache (Redis) is not reachable"),
    (RedisTimeoutError, "the shared cache (Redis) did not answer in time"),
)


def service_down(exc: BaseException) -> str | None:
    """What is down, when ``exc`` says that a service the app needs is unreachable; else None."""
    return next((what for kind, what in _DOWN if isinstance(exc, kind)), None)


class ServiceUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        what = service_down(exception)
        if what is None:
            return None
        logger.warning("%s %s answered 503: %s (%s)", request.method, request.path, what, exception)
        retry_after = str(settings.SERVICE_RETRY_AFTER_S)
        response: HttpResponseBase
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": f"{what}; try again later"}, status=503)
        else:
            response = render(request, "503.html", {"what": what, "retry_after": retry_after}, status=503)
        response.headers["Retry-After"] = retry_after
        return response
