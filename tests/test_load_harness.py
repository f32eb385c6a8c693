"""The load benchmarks' own machinery: the paced load generator, the memory sampler, the webhook event plan.

Timings never gate a test here; these check that the harness counts what it claims to count.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import TestCase

from bench.bench_webhook_load import FIRST_ANNOTATION, end_state, events_plan, sample_pushed
from bench.loadtools import RssSampler, children, percentile, post_paced, rss_kib


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[bytes] = []
        self.open = 0
        self.most_open = 0


@pytest.fixture
def server() -> Iterator[tuple[str, _Recorder]]:
    recorder = _Recorder()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            with recorder.lock:
                recorder.open += 1
                recorder.most_open = max(recorder.most_open, recorder.open)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.02)
            with recorder.lock:
                recorder.bodies.append(body)
                recorder.open -= 1
            status = 500 if body == b'"fail"' else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook/", recorder
    httpd.shutdown()
    httpd.server_close()


def test_post_paced_sends_each_body_once_on_schedule_and_never_more_in_flight(server: tuple[str, _Recorder]) -> None:
    url, recorder = server
    bodies = [json.dumps({"n": i}).encode() for i in range(60)] + [b'"fail"']
    result = post_paced(url=url, bodies=bodies, rate=200, max_in_flight=3)
    assert Counter(recorder.bodies) == Counter(bodies)
    assert [s.index for s in result.sent] == list(range(61))
    assert result.statuses() == Counter({200: 60, 500: 1})
    assert recorder.most_open <= 3
    assert all(s.sent >= s.due for s in result.sent)  # never ahead of the schedule
    assert result.finished - result.started >= 60 / 200
    assert min(result.latencies_ms()) >= 20


def test_post_paced_records_a_refused_connection_as_an_error_without_an_answer() -> None:
    result = post_paced(url="http://127.0.0.1:9/hook/", bodies=[b"{}", b"{}"], rate=100, max_in_flight=2)
    assert result.statuses() == Counter({0: 2})
    assert all("ConnectionRefusedError" in s.error for s in result.sent)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 95) == 7.0


def test_the_sampler_follows_the_children_of_a_process_and_reads_their_memory() -> None:
    holds = "import time; x = bytearray(64 << 20); print('ready', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", holds], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"  # the memory is held from here on
        assert child.pid in children(os.getpid())
        sampler = RssSampler(lambda: {"child": child.pid}, interval_s=0.05)
        with sampler:
            time.sleep(0.3)
        series = sampler.series["child"]
        assert len(series.samples) >= 3
        assert series.peak() >= 64 * 1024  # the 64 MiB it holds, in KiB
        assert "child: first" in sampler.lines()[0]
    finally:
        child.kill()
        child.wait()
    assert rss_kib(child.pid) is None


def _receive_all(bodies: list[bytes]) -> None:
    from annotate.services import webhook_receive

    for body in bodies:
        with TestCase.captureOnCommitCallbacks(execute=True):  # processing runs eagerly after the commit
            _, created = webhook_receive(body=body)
        assert created


def test_the_event_plan_ends_in_the_state_the_benchmark_checks(db: None) -> None:
    from annotate.models import EventStatus, WebhookEvent

    sample_pushed(tasks=6)
    bodies = events_plan(tasks=6)
    assert len(bodies) == 24
    assert len(set(bodies)) == 24
    actions = Counter(json.loads(b)["action"] for b in bodies)
    assert actions == Counter({"ANNOTATION_CREATED": 6, "ANNOTATION_UPDATED": 15, "ANNOTATIONS_DELETED": 3})
    shuffled = bodies[:]
    random.Random(3).shuffle(shuffled)  # the drain's workers apply events in any order
    _receive_all(shuffled)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    state = end_state(tasks=6)
    assert (state.live_rows, state.live_rows_expected, state.tombstones) == (6, 6, 3)
    assert state.exact()


def test_the_end_state_check_notices_a_lost_event(db: None) -> None:
    sample_pushed(tasks=4)
    bodies = events_plan(tasks=4)
    lost = json.dumps(
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": FIRST_ANNOTATION + 2}], "project": {"id": 1}}
    ).encode()
    _receive_all([b for b in bodies if b != lost])
    state = end_state(tasks=4)
    assert state.live_rows_wrong == 2
    assert state.tombstones == 1
    assert not state.exact()
