"""The shared rate limiter: GCRA arithmetic in-process, and the Redis limiter shared by processes."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from extraction.ratelimit import Limits, LocalRateLimiter, RateLimiterUnavailableError, RedisRateLimiter, limiter_create


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def local(limits: Limits) -> tuple[LocalRateLimiter, FakeClock]:
    clock = FakeClock()
    return LocalRateLimiter(limits, clock=clock, sleep=clock.sleep), clock


def test_requests_are_spaced_at_the_rate_after_the_burst() -> None:
    limiter, clock = local(Limits(requests_per_minute=60, burst_seconds=3.0))
    start = clock.now
    times = []
    for _ in range(10):
        limiter.acquire()
        times.append(clock.now - start)
    # A burst of 3 seconds' worth (3 requests at once, as tau = 3 s at 1 request/s), then one per second.
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])


def test_token_dimension_limits_large_requests() -> None:
    limiter, clock = local(Limits(requests_per_minute=6000, input_tokens_per_minute=6000, burst_seconds=1.0))
    start = clock.now
    for _ in range(5):
        limiter.acquire(requests=1, input_tokens=200)  # 100 tokens/s: each request costs 2 s of budget
    # The first passes on an empty bucket (its cost exceeds the burst), each later one waits its 2 s.
    assert clock.now - start == pytest.approx(8.0)


def test_refund_returns_unused_budget() -> None:
    limiter, clock = local(Limits(requests_per_minute=6000, output_tokens_per_minute=600, burst_seconds=1.0))
    limiter.acquire(output_tokens=100)  # reserves 10 s of output budget (10 tokens/s)
    limiter.refund(output_tokens=95)  # only 5 tokens were produced
    start = clock.now
    limiter.acquire(output_tokens=5)  # 0.5 s + 0.5 s of budget fits the 1 s burst
    assert clock.now - start == pytest.approx(0.0, abs=1e-9)
    limiter.acquire(output_tokens=100)  # nothing refunded this time: waits for the burst to drain
    assert clock.now - start == pytest.approx(1.0)


def test_pause_blocks_until_it_ends() -> None:
    limiter, clock = local(Limits(requests_per_minute=6000))
    limiter.pause(5.0)
    start = clock.now
    limiter.acquire()
    assert clock.now - start == pytest.approx(5.0)


def test_no_redis_means_in_process() -> None:
    assert isinstance(limiter_create(limits=Limits(60), redis_url=""), LocalRateLimiter)


def _hammer(redis_url: str, name: str, seconds: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = RedisRateLimiter(Limits(requests_per_minute=300, burst_seconds=0.5), redis_url=redis_url, name=name)
    stamps = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        limiter.acquire()
        stamps.append(time.time())
    out.put(stamps)


@pytest.mark.services
@pytest.mark.slow
def test_redis_limiter_is_shared_by_two_processes(redis_url: str) -> None:
    """Two processes pulling as fast as they can together stay under 300/min (5/s) plus the burst."""
    name = f"test-{time.time_ns()}"
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    seconds = 4.0
    procs = [ctx.Process(target=_hammer, args=(redis_url, name, seconds, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    stamps = sorted(s for r in results for s in r)
    assert all(len(r) > 0 for r in results), "both processes got slots"
    # Count grants after both processes were running, in every 2-second window.
    first = max(r[0] for r in results)
    later = [s for s in stamps if s >= first]
    for i, start in enumerate(later):
        in_window = sum(1 for s in later[i:] if s < start + 2.0)
        assert in_window <= 5 * 2.0 + 2.5 + 1, f"{in_window} grants in 2 s from {start}"
    # And the limiter is not merely slow: the pair used the rate they were given.
    span = stamps[-1] - stamps[0]
    assert len(stamps) >= 5 * span * 0.9


@pytest.mark.services
def test_redis_pause_reaches_other_limiters(redis_url: str) -> None:
    name = f"test-{time.time_ns()}"
    a = RedisRateLimiter(Limits(requests_per_minute=6000), redis_url=redis_url, name=name)
    b = RedisRateLimiter(Limits(requests_per_minute=6000), redis_url=redis_url, name=name)
    a.pause(0.5)
    started = time.monotonic()
    b.acquire()
    assert time.monotonic() - started >= 0.45


@pytest.mark.services
def test_redis_refund(redis_url: str) -> None:
    name = f"test-{time.time_ns()}"
    limiter = RedisRateLimiter(
        Limits(requests_per_minute=6000, output_tokens_per_minute=600, burst_seconds=1.0),
        redis_url=redis_url,
        name=name,
    )
    limiter.acquire(output_tokens=100)
    limiter.refund(output_tokens=100)
    started = time.monotonic()
    limiter.acquire(output_tokens=5)
    assert time.monotonic() - started < 0.2
    limiter.reset()


def test_a_redis_that_does_not_answer_is_waited_for_then_named() -> None:
    # Nothing listens on port 9: acquire waits out the outage window, then says which Redis is gone; a refund
    # or a pause is dropped at once (an answer already paid for must not be lost to the limiter).
    limiter = RedisRateLimiter(Limits(requests_per_minute=6000), redis_url="redis://127.0.0.1:9/0", outage_s=1.0)
    started = time.monotonic()
    limiter.refund(output_tokens=100)
    limiter.pause(1.0)
    assert time.monotonic() - started < 0.5
    with pytest.raises(RateLimiterUnavailableError, match="the rate limiter's Redis has not answered for 1 s"):
        limiter.acquire()
    assert time.monotonic() - started >= 1.0
