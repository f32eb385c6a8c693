"""The HTTP face of the fake Anthropic server: routes, status codes and error bodies as the API sends them."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testing.fake_anthropic.answers import (
    detect_feature,
    error_body,
    input_tokens,
    params_key,
    validate_count_params,
    validate_params,
)
from testing.fake_anthropic.server import FakeAnthropic, LoggedRequest


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeAnthropic

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the request log is kept in FakeAnthropic.log

    def _send(self, status: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", "req_fake_" + uuid.uuid4().hex[:16])
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        return json.loads(raw or b"{}")

    def _base(self) -> str:
        return f"http://{self.headers.get('host') or '127.0.0.1'}"

    def do_POST(self) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        if not self.headers.get("x-api-key") and not self.headers.get("authorization"):
            self._json(401, error_body(401))
            return
        body = self._body()
        if path == "/v1/messages":
            self._messages(body)
        elif path == "/v1/messages/count_tokens":
            self._count_tokens(body)
        elif path == "/v1/messages/batches":
            batch = fake.batch_create(body)
            self._json(200, fake.batch_json(batch, self._base()))
        elif path.startswith("/v1/messages/batches/") and path.endswith("/cancel"):
            batch_id = path.split("/")[4]
            found = fake.batches.get(batch_id)
            if found is None:
                self._json(404, error_body(404))
                return
            if found.status == "in_progress":
                found.status = "canceling"
                found.cancel_initiated_at = datetime.now(UTC)
            self._json(200, fake.batch_json(found, self._base()))
        elif path == "/_fake/reset":
            fake.reset()
            self._json(200, {"ok": True})
        else:
            self._json(404, error_body(404))

    def do_GET(self) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        if path == "/_fake/log":
            with fake._lock:
                rows = [r.__dict__ for r in fake.log]
            self._json(200, rows)
            return
        if path == "/v1/messages/batches":
            self._batch_list()
            return
        if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"]:
            batch = fake.batches.get(parts[3])
            if batch is None:
                self._json(404, error_body(404))
                return
            if len(parts) == 4:
                fake._record(LoggedRequest(time.monotonic(), "batch_retrieve", 200, batch.id, "", ""))
                self._json(200, fake.batch_json(batch, self._base()))
                return
            if len(parts) == 5 and parts[4] == "results":
                if batch.status != "ended":
                    self._json(400, error_body(400))
                    return
                fake._record(LoggedRequest(time.monotonic(), "batch_results", 200, batch.id, "", ""))
                lines = "".join(json.dumps(batch.results[str(r.get("custom_id"))]) + "\n" for r in batch.requests)
                self._send(200, lines.encode(), "application/binary")
                return
        self._json(404, error_body(404))

    def _batch_list(self) -> None:
        query = parse_qs(urlsplit(self.path).query)

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        raw_limit = one("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            body = {"type": "error", "error": {"type": "invalid_request_error", "message": "limit: 1 to 1000"}}
            self._json(400, body)
            return
        before_id, after_id = one("before_id"), one("after_id")
        if before_id and after_id:
            body = {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "give before_id or after_id, not both"},
            }
            self._json(400, body)
            return
        listed = self.fake.batch_list(limit=int(raw_limit), before_id=before_id, after_id=after_id)
        if listed is None:
            self._json(404, error_body(404))
            return
        base = self._base()
        self._json(
            200,
            {
                "data": [self.fake.batch_json(b, base) for b in listed["page"]],
                "has_more": listed["has_more"],
                "first_id": listed["first_id"],
                "last_id": listed["last_id"],
            },
        )

    def _count_tokens(self, params: dict[str, Any]) -> None:
        fake = self.fake
        key, model = params_key(params), str(params.get("model", ""))
        problem = validate_count_params(params)
        status = 400 if problem else fake.config.count_tokens_status
        if status != 200:
            fake._record(LoggedRequest(time.monotonic(), "count_tokens", status, key, "", model))
            body = error_body(status)
            if problem:
                body = {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}
            self._json(status, body)
            return
        counted = {"input_tokens": input_tokens(params)}
        fake._record(
            LoggedRequest(time.monotonic(), "count_tokens", 200, key, detect_feature(params), model, "", counted)
        )
        self._json(200, counted)

    def _messages(self, params: dict[str, Any]) -> None:
        fake = self.fake
        cfg = fake.config
        problem = validate_params(params)
        if problem:
            fake._record(LoggedRequest(time.monotonic(), "message", 400, params_key(params), "", ""))
            self._json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}})
            return
        key = params_key(params)
        feature = detect_feature(params)
        model = str(params.get("model", ""))
        if cfg.refuse_marker and cfg.refuse_marker in json.dumps(params.get("messages")):
            fake._record(LoggedRequest(time.monotonic(), "message", 400, key, feature, model))
            body = {"type": "error", "error": {"type": "invalid_request_error", "message": "the request was refused"}}
            self._json(400, body)
            return
        status, retry_after = fake._fault()
        if status != 200:
            headers: list[tuple[str, str]] = []
            if retry_after is not None:
                headers = [
                    ("retry-after", str(max(1, math.ceil(retry_after)))),
                    ("retry-after-ms", str(max(1, math.ceil(retry_after * 1000)))),
                ]
            if status == 529:
                time.sleep(cfg.latency_ms / 4000.0)
            fake._record(LoggedRequest(time.monotonic(), "message", status, key, feature, model))
            self._json(status, error_body(status), headers)
            return
        stall = garbled = False
        with fake._lock:
            if cfg.stall_count > 0:
                cfg.stall_count -= 1
                stall = True
            elif cfg.garbled_count > 0:
                cfg.garbled_count -= 1
                garbled = True
        if garbled:
            fake._record(LoggedRequest(time.monotonic(), "message", 0, key, feature, model, note="garbled"))
            self._send(200, b'{"id": "msg_fake_cut", "type": "message", "content": [{"type": "te', "application/json")
            return
        if stall:
            fake._record(LoggedRequest(time.monotonic(), "message", 0, key, feature, model, note="stalled"))
            time.sleep(cfg.stall_s)
            self.close_connection = True
            return  # the client has given up; closing without an answer
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000.0)
        message = fake.answer(params)
        fake._record(LoggedRequest(time.monotonic(), "message", 200, key, feature, model, "", message["usage"]))
        self._json(200, message)
