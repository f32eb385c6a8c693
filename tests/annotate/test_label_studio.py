"""The Label Studio client's failure handling, against a local fake server over HTTP (the SDK runs for real)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from annotate.label_studio import (
    LabelStudio,
    LabelStudioNotFoundError,
    LabelStudioRejectedError,
    LabelStudioUnavailableError,
    LsAnnotation,
)


class FakeLabelStudio(BaseHTTPRequestHandler):
    """Answers from a script: a list of (status, body) consumed one request at a time, the last one repeated."""

    script: ClassVar[list[tuple[int, Any]]] = []
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        status, payload = self.script[0] if len(self.script) == 1 else self.script.pop(0)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        del body

    do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815 - the names http.server dispatches to

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[tuple[str, type[FakeLabelStudio]]]:
    FakeLabelStudio.script = [(200, {})]
    FakeLabelStudio.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLabelStudio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", FakeLabelStudio
    server.shutdown()
    server.server_close()


def _client(url: str) -> LabelStudio:
    return LabelStudio(url=url, api_key="legacy-token-" + "0" * 27, retries=2, backoff_s=0.01)


def test_an_unreachable_label_studio_gives_one_clear_error_naming_the_url() -> None:
    client = LabelStudio(url="http://127.0.0.1:9", api_key="x" * 40, retries=1, backoff_s=0.01)
    with pytest.raises(LabelStudioUnavailableError, match=r"not reachable at http://127\.0\.0\.1:9") as info:
        client.project_exists(1)
    assert "make labelstudio" in str(info.value)


def test_reads_are_retried_with_backoff_and_succeed_when_the_server_recovers(fake: Any) -> None:
    url, server = fake
    server.script = [(503, {"detail": "busy"}), (502, {}), (200, {"id": 3, "title": "p", "task_number": 17})]
    assert _client(url).project_task_count(3) == 17
    assert [s[:2] for s in server.seen] == [("GET", "/api/projects/3/")] * 3
    assert server.seen[0][2] == "Token legacy-token-" + "0" * 27, "legacy token auth"


def test_reads_give_up_after_the_retries_with_the_status(fake: Any) -> None:
    url, server = fake
    server.script = [(503, {})]
    with pytest.raises(LabelStudioUnavailableError, match=r"get project 3: .*HTTP 503"):
        _client(url).project_task_count(3)
    assert len(server.seen) == 3


def test_an_import_is_never_retried_because_it_may_have_been_applied(fake: Any) -> None:
    url, server = fake
    server.script = [(503, {})]
    with pytest.raises(LabelStudioUnavailableError):
        _client(url).tasks_import(project_id=3, tasks=[{"data": {"item_id": 1}}])
    assert len(server.seen) == 1


def test_import_checks_that_every_task_was_created(fake: Any) -> None:
    url, server = fake
    server.script = [(201, {"task_count": 1, "task_ids": [10]})]
    with pytest.raises(Exception, match="sent 2 tasks, Label Studio reports 1 created"):
        _client(url).tasks_import(project_id=3, tasks=[{"data": {"item_id": 1}}, {"data": {"item_id": 2}}])
    server.script = [(201, {"task_count": 2, "task_ids": [10, 11]})]
    assert _client(url).tasks_import(project_id=3, tasks=[{"data": {"item_id": 1}}, {"data": {"item_id": 2}}]) == [
        10,
        11,
    ]


def test_404_and_other_4xx_are_not_retried_and_say_what_happened(fake: Any) -> None:
    url, server = fake
    server.script = [(404, {"detail": "Not found."})]
    assert _client(url).project_exists(8) is False
    server.script = [(400, {"detail": "Validation error", "validation_errors": {"title": ["too long"]}})]
    with pytest.raises(LabelStudioRejectedError, match=r"refused it \(400\).*too long"):
        _client(url).project_create(title="x" * 60, label_config="<View/>")
    server.script = [(404, {})]
    with pytest.raises(LabelStudioNotFoundError, match="delete project 8: not found"):
        _client(url).project_delete(8)
    assert len(server.seen) == 3


def test_annotation_payloads_are_validated_field_by_field() -> None:
    ann = LsAnnotation.from_payload(
        {"id": "5", "task": {"id": 7}, "completed_by": {"id": 2}, "result": [], "lead_time": 3, "updated_at": "t"}
    )
    assert (ann.annotation_id, ann.task_id, ann.completed_by, ann.lead_time) == (5, 7, 2, 3.0)
    with pytest.raises(ValueError, match=r"annotation\.id is missing"):
        LsAnnotation.from_payload({"task": 1})
    with pytest.raises(ValueError, match="annotation 5: task is missing"):
        LsAnnotation.from_payload({"id": 5})
    with pytest.raises(ValueError, match="must be an object"):
        LsAnnotation.from_payload([])  # type: ignore[arg-type]
