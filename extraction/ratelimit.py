"""A rate limiter shared by every worker on every machine: requests, input and output tokens per minute.

The algorithm is GCRA (the generic cell rate algorithm, ITU-T I.371; the "leaky bucket as a meter"):
for a limit of ``L`` units per minute each unit has an emission interval ``T = 60 / L`` seconds, and
the state is one number per dimension, the *theoretical arrival time* ``tat``. A request costing ``n``
units at time ``now`` is allowed when ``max(tat, now) + n*T - now <= tau`` (``tau`` is the burst
tolerance); then ``tat := max(tat, now) + n*T``. Otherwise the caller waits that excess. Over any
window of ``t`` seconds at most ``L*t/60 + tau/T`` units pass, which is what keeps N workers on M
machines together under the account's limits.

With Redis (``REDIS_URL``) the state lives in Redis and one Lua script checks and updates every
dimension atomically, using the Redis server's clock so that machines with skewed clocks agree.
Without Redis an in-process limiter with the same algorithm is used (one process only).

``pause(seconds)`` makes every worker wait: the API answered 429 with ``retry-after``, so nobody
should send until then. ``refund`` gives back what was reserved but not used (output tokens are
reserved at ``max_tokens`` and only known afterwards; cache reads do not count as input tokens).

A Redis that stops answering (a restart) is waited for: ``acquire`` retries for up to ``outage_s`` and
only then raises :class:`RateLimiterUnavailableError`; a refund or a pause that cannot reach Redis is
dropped with a warning (a lost refund only makes the limiter stricter for a minute), so an answer
already paid for is never thrown away because the limiter's Redis blinked.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

DIMENSIONS = ("requests", "input_tokens", "output_tokens")

logger = logging.getLogger(__name__)


class RateLimiterUnavailableError(RuntimeError):
    """The shared limiter's Redis did not answer within the limiter's ``outage_s``."""


@dataclass(frozen=True)
class Limits:
    """Per-minute limits; 0 disables a dimension. ``burst_seconds`` is the burst tolerance in seconds of rate."""

    requests_per_minute: int
    input_tokens_per_minute: int = 0
    output_tokens_per_minute: int = 0
    burst_seconds: float = 1.0

    def per_dimension(self) -> tuple[int, int, int]:
        return (self.requests_per_minute, self.input_tokens_per_minute, self.output_tokens_per_minute)


class RateLimiter(Protocol):
    def acquire(self, *, requests: int = 1, input_tokens: int = 0, output_tokens: int = 0) -> float:
        """Block until the request may be sent; return the seconds waited."""
        ...

    def refund(self, *, input_tokens: int = 0, output_tokens: int = 0) -> None: ...

    def pause(self, seconds: float) -> None: ...


def _gcra_params(limits: Limits, costs: tuple[int, int, int]) -> list[tuple[float, float]]:
    """(interval*cost, tolerance) for each enabled dimension; a cost above the tolerance passes on an empty bucket."""
    out = []
    for limit, cost in zip(limits.per_dimension(), costs, strict=True):
        if limit <= 0:
            out.append((0.0, 0.0))
            continue
        interval = 60.0 / limit
        tau = max(limits.burst_seconds, interval)
        increment = interval * cost
        out.append((increment, max(tau, increment)))
    return out


class LocalRateLimiter:
    """The same GCRA in one process (threads share it). Used when no Redis is configured."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = [0.0, 0.0, 0.0]
        self._paused_until = 0.0

    def _try(self, costs: tuple[int, int, int]) -> float:
        with self._lock:
            now = self._clock()
            if self._paused_until > now:
                return self._paused_until - now
            params = _gcra_params(self.limits, costs)
            new_tats = []
            wait = 0.0
            for i, (increment, tau) in enumerate(params):
                tat = max(self._tat[i], now)
                new_tat = tat + increment
                wait = max(wait, new_tat - tau - now)
                new_tats.append(new_tat)
            if wait > 0:
                return wait
            self._tat = new_tats
            return 0.0

    def acquire(self, *, requests: int = 1, input_tokens: int = 0, output_tokens: int = 0) -> float:
        waited = 0.0
        while True:
            wait = self._try((requests, input_tokens, output_tokens))
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    def refund(self, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
        params = _gcra_params(self.limits, (0, max(input_tokens, 0), max(output_tokens, 0)))
        with self._lock:
            now = self._clock()
            for i, (increment, _tau) in enumerate(params):
                if increment:
                    self._tat[i] = max(now, self._tat[i] - increment)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


# KEYS: tat of each dimension (3), then the pause key.
# ARGV: mode ("acquire" | "refund" | "pause"), then increment/tolerance pairs per dimension (acquire, refund)
# or the pause in seconds. Times are the Redis server's clock, in seconds.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local mode = ARGV[1]
local pause_key = KEYS[4]
if mode == 'pause' then
  local untill = now + tonumber(ARGV[2])
  local cur = tonumber(redis.call('GET', pause_key) or '0')
  if untill > cur then
    redis.call('SET', pause_key, tostring(untill), 'PX', math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  end
  return '0'
end
if mode == 'refund' then
  for i = 1, 3 do
    local inc = tonumber(ARGV[2 * i])
    if inc > 0 then
      local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
      local new_tat = math.max(now, tat - inc)
      redis.call('SET', KEYS[i], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 60000)
    end
  end
  return '0'
end
local paused = tonumber(redis.call('GET', pause_key) or '0')
if paused > now then
  return tostring(paused - now)
end
local wait = 0
local new_tats = {}
for i = 1, 3 do
  local inc = tonumber(ARGV[2 * i])
  local tau = tonumber(ARGV[2 * i + 1])
  if inc > 0 then
    local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
    local new_tat = tat + inc
    wait = math.max(wait, new_tat - tau - now)
    new_tats[i] = new_tat
  end
end
if wait > 0 then
  return tostring(wait)
end
for i = 1, 3 do
  if new_tats[i] then
    redis.call('SET', KEYS[i], tostring(new_tats[i]), 'PX', math.ceil((new_tats[i] - now) * 1000) + 60000)
  end
end
return '0'
"""


class RedisRateLimiter:
    """GCRA state in Redis, shared by every process that uses the same ``name`` and Redis database."""

    def __init__(
        self,
        limits: Limits,
        *,
        redis_url: str,
        name: str = "llm",
        sleep: Callable[[float], None] = time.sleep,
        max_sleep: float = 1.0,
        outage_s: float = 120.0,
    ) -> None:
        import redis

        self.limits = limits
        self.outage_s = outage_s
        self._redis = redis.Redis.from_url(redis_url)
        self._script = self._redis.register_script(_LUA)
        prefix = f"ratelimit:{name}:"
        self._keys = [prefix + d for d in DIMENSIONS] + [prefix + "paused_until"]
        self._sleep = sleep
        # Sleeping in short slices re-checks the shared state: another worker's pause or refund counts.
        self._max_sleep = max_sleep

    def _call(self, *args: str, best_effort: bool = False) -> float:
        """Run the script; while Redis does not answer, wait for it (up to ``outage_s``), or give up at once
        when ``best_effort`` (returns 0)."""
        import redis

        deadline = time.monotonic() + self.outage_s
        delay = 0.2
        while True:
            try:
                return float(self._script(keys=self._keys, args=list(args)))
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if best_effort:
                    logger.warning("rate limiter: %s dropped, Redis is not answering (%s)", args[0], exc)
                    return 0.0
                if time.monotonic() >= deadline:
                    raise RateLimiterUnavailableError(
                        f"the rate limiter's Redis has not answered for {self.outage_s:.0f} s: {exc}"
                    ) from exc
                logger.warning("rate limiter: Redis is not answering (%s); retrying in %.1f s", exc, delay)
                self._sleep(delay)
                delay = min(delay * 2, 5.0)

    def acquire(self, *, requests: int = 1, input_tokens: int = 0, output_tokens: int = 0) -> float:
        args: list[str] = ["acquire"]
        for inc, tau in _gcra_params(self.limits, (requests, input_tokens, output_tokens)):
            args += [repr(inc), repr(tau)]
        waited = 0.0
        while True:
            wait = self._call(*args)
            if wait <= 0:
                return waited
            # A little jitter so that waiting workers do not all retry in the same millisecond.
            delay = min(wait, self._max_sleep) + random.uniform(0, 0.005)
            self._sleep(delay)
            waited += delay

    def refund(self, *, input_tokens: int = 0, output_tokens: int = 0) -> None:
        args: list[str] = ["refund"]
        for inc, tau in _gcra_params(self.limits, (0, max(input_tokens, 0), max(output_tokens, 0))):
            args += [repr(inc), repr(tau)]
        self._call(*args, best_effort=True)

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._call("pause", repr(float(seconds)), best_effort=True)

    def reset(self) -> None:
        """Forget all state (tests and benchmarks start from an empty bucket)."""
        self._redis.delete(*self._keys)


def limiter_create(*, limits: Limits, redis_url: str = "", name: str = "llm") -> RateLimiter:
    """A Redis-backed limiter when ``redis_url`` is set, else an in-process one."""
    if redis_url:
        return RedisRateLimiter(limits, redis_url=redis_url, name=name)
    return LocalRateLimiter(limits)
