"""Pagination of every list endpoint: ``?limit=`` (1 to ``MAX_LIMIT``) and ``?offset=`` (0 to 2^63 - 1).

The body stays a plain JSON list, so existing clients keep working; the total is in ``X-Total-Count`` and the
next and previous pages are in a ``Link`` header (RFC 8288). A limit or offset that is not a whole number in
range is a 400 naming the parameter, never silently replaced by a default.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

#: The most rows one list request returns, and what it returns when no limit is given.
MAX_LIMIT = 1000
MAX_OFFSET = 2**63 - 1


def _whole(raw: str, name: str, low: int, high: int) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and low <= int(raw) <= high):
        raise serializers.ValidationError({name: [f"must be an integer from {low} to {high}"]})
    return int(raw)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = MAX_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        return MAX_LIMIT if raw is None else _whole(raw, self.limit_query_param, 1, MAX_LIMIT)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        return 0 if raw is None else _whole(raw, self.offset_query_param, 0, MAX_OFFSET)

    def get_paginated_response(self, data: Any) -> Response:
        links = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.get_next_link()), ("prev", self.get_previous_link()))
            if url
        ]
        headers = {"X-Total-Count": str(self.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema
