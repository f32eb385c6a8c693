"""The OpenAPI schema's error answers: every status an endpoint can give is documented, not only its success.

drf-spectacular documents the success code of each operation; the errors DRF itself answers are added here from what
the view declares, so that the schema lists every status a client can receive (schemathesis checks it:
``tests/test_api_schema_fuzz.py``). A code an operation documents itself (``extend_schema(responses=...)``) is kept.

- 400 when the operation takes a body (every POST, PUT, PATCH) or query parameters (validation errors name the field);
- 403 when a role is required (an anonymous or role-less caller, or the wrong role);
- 404 when the path names an object;
- 415 when an operation that takes a body receives one it cannot parse as the documented media type;
- 429 with ``Retry-After`` when the view is throttled (``config/throttling.py``);
- 503 with ``Retry-After`` when a service the request needs (the broker, the shared cache) is down
  (``config/unavailable.py``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from rest_framework.permissions import AllowAny

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "description": '{"detail": "why"} or, for invalid input, {"field": ["why"]}',
    "additionalProperties": True,
}


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}
    if retry_after:
        answer["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before trying again"}
        }
    return answer


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        parameters = operation.get("parameters", [])
        takes_input = self.method in ("POST", "PUT", "PATCH") or any(p.get("in") == "query" for p in parameters)
        if takes_input:
            responses.setdefault("400", _error("invalid input"))
        if self.method in ("POST", "PUT", "PATCH"):
            responses.setdefault("415", _error("unsupported media type: send the body as the operation documents"))
        if any(p.get("in") == "path" for p in parameters):
            responses.setdefault("404", _error("no such object"))
        if not all(cls is AllowAny for cls in self.view.permission_classes):
            responses.setdefault("403", _error("not signed in, or without the role this endpoint requires"))
        counted = getattr(self.view, "throttle_methods", None)
        if getattr(self.view, "throttle_scope", None) and (counted is None or self.method in counted):
            responses.setdefault("429", _error("too many requests: wait Retry-After seconds", retry_after=True))
        responses.setdefault(
            "503", _error("a service it needs (task queue, cache) is down: wait Retry-After seconds", retry_after=True)
        )
        return operation
