"""Small tools shared by the load benchmarks: a paced HTTP load generator, resident memory sampled from /proc.

Pure Python, no Django. The resident set size of a process is read from ``/proc/<pid>/status`` (``VmRSS``), so
the numbers are what the kernel holds for the process, children not included.

``post_paced`` sends a list of request bodies at a fixed rate with at most ``max_in_flight`` requests open at
once: ``max_in_flight`` threads, each with its own keep-alive connection, take every ``max_in_flight``-th body and
send it at its scheduled time ``start + index / rate`` (or at once when it is already late, so a slow server
shows up as lateness and a lower achieved rate, never as more requests in flight).
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


def rss_kib(pid: int) -> int | None:
    """The resident set size of ``pid`` in KiB, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


@dataclass
class RssSeries:
    """The samples of one process: (seconds since sampling began, KiB)."""

    name: str
    samples: list[tuple[float, int]] = field(default_factory=list)

    def first(self) -> int:
        return self.samples[0][1] if self.samples else 0

    def last(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def peak(self) -> int:
        return max((kib for _, kib in self.samples), default=0)

    def at_fraction(self, fraction: float) -> int:
        """The first sample taken at or after ``fraction`` of the sampled span (0.1: after a warm-up tenth)."""
        if not self.samples:
            return 0
        start, end = self.samples[0][0], self.samples[-1][0]
        moment = start + (end - start) * fraction
        return next(kib for at, kib in self.samples if at >= moment)

    def describe(self) -> str:
        """``name: first / after 10% / last / max MiB (n samples)``."""
        mib = [v / 1024 for v in (self.first(), self.at_fraction(0.1), self.last(), self.peak())]
        return (
            f"{self.name}: first {mib[0]:.1f}, at 10% {mib[1]:.1f}, last {mib[2]:.1f}, max {mib[3]:.1f} MiB "
            f"({len(self.samples)} samples)"
        )


class RssSampler:
    """Samples the resident memory of some processes every ``interval_s`` seconds in a background thread.

    ``pids`` is called at each tick, so processes found (or restarted) later are followed too; a process that
    is gone is skipped. Use as a context manager or call ``start`` / ``stop``.
    """

    def __init__(self, pids: Callable[[], dict[str, int]], *, interval_s: float = 1.0) -> None:
        self._pids = pids
        self.interval_s = interval_s
        self.series: dict[str, RssSeries] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._started = 0.0

    def sample(self) -> None:
        at = time.monotonic() - self._started
        for name, pid in self._pids().items():
            kib = rss_kib(pid)
            if kib is not None:
                self.series.setdefault(name, RssSeries(name)).samples.append((at, kib))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def start(self) -> RssSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()  # one last sample at the end

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def lines(self) -> list[str]:
        return [self.series[name].describe() for name in sorted(self.series)]


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class Sent:
    """One request of a paced run: its index, when it was due and sent, how long it took, and the answer."""

    index: int
    due: float
    sent: float
    seconds: float
    status: int  # the HTTP status; 0 when no answer came (the error is in ``error``)
    body: bytes = b""
    error: str = ""


@dataclass
class LoadResult:
    sent: list[Sent]
    started: float
    finished: float

    def statuses(self) -> Counter[int]:
        return Counter(s.status for s in self.sent)

    def latencies_ms(self) -> list[float]:
        return [s.seconds * 1000 for s in self.sent]

    def rate(self) -> float:
        """Answered requests per second, from the first due time to the last answer."""
        return len(self.sent) / (self.finished - self.started) if self.finished > self.started else math.nan

    def lateness_ms(self) -> list[float]:
        return [max(0.0, s.sent - s.due) * 1000 for s in self.sent]


def _send_share(
    *,
    url: str,
    bodies: Sequence[bytes],
    indices: range,
    start: float,
    rate: float,
    headers: Mapping[str, str],
    out: list[Sent],
    timeout_s: float,
) -> None:
    parts = urlsplit(url)
    path = parts.path or "/"
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout_s)
    try:
        for index in indices:
            due = start + index / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent = time.monotonic()
            try:
                conn.request("POST", path, body=bodies[index], headers=dict(headers))
                answer = conn.getresponse()
                content = answer.read()
                out.append(Sent(index, due, sent, time.monotonic() - sent, answer.status, content))
                if answer.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                out.append(Sent(index, due, sent, time.monotonic() - sent, 0, error=f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def post_paced(
    *,
    url: str,
    bodies: Sequence[bytes],
    rate: float,
    max_in_flight: int,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> LoadResult:
    """POST each body to ``url`` once, at ``rate`` per second, at most ``max_in_flight`` at a time; every answer."""
    if rate <= 0 or max_in_flight < 1:
        raise ValueError("rate must be positive and max_in_flight at least 1")
    sent_headers = {"Content-Type": "application/json", **(headers or {})}
    shares: list[list[Sent]] = [[] for _ in range(max_in_flight)]
    start = time.monotonic() + 0.2  # the threads are all waiting when the first body is due
    threads = [
        threading.Thread(
            target=_send_share,
            kwargs={
                "url": url,
                "bodies": bodies,
                "indices": range(j, len(bodies), max_in_flight),
                "start": start,
                "rate": rate,
                "headers": sent_headers,
                "out": shares[j],
                "timeout_s": timeout_s,
            },
            name=f"load-{j}",
            daemon=True,
        )
        for j in range(max_in_flight)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = sorted((s for share in shares for s in share), key=lambda s: s.index)
    finished = max((s.sent + s.seconds for s in sent), default=start)
    return LoadResult(sent=sent, started=start, finished=finished)
