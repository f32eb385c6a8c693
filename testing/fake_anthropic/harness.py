"""Real Celery workers driving the real client against the fake server: shared by benchmarks and tests.

``WorkerPool`` starts ``celery worker`` processes (the project's Celery app, ``config``) with an
environment that points them at a database, a Redis broker, the shared rate limiter's Redis and the
fake server; ``kill`` sends SIGKILL (a worker dying mid-task) and ``restart`` brings one back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import redis

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def worker_env(
    *,
    database_url: str,
    broker_url: str,
    limiter_redis_url: str,
    anthropic_base_url: str,
    requests_per_minute: int,
    visibility_timeout_s: int = 3600,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a worker; nothing else of the caller's environment leaks in but PATH and HOME."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="false",  # DEBUG keeps every SQL query in memory: not for a long run
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CELERY_RESULT_BACKEND="",
        CELERY_VISIBILITY_TIMEOUT_S=str(visibility_timeout_s),
        REDIS_URL=limiter_redis_url,
        ANTHROPIC_BASE_URL=anthropic_base_url,
        ANTHROPIC_API_KEY="fake-key-for-the-local-fake-server",
        LLM_REQUESTS_PER_MINUTE=str(requests_per_minute),
        LLM_INPUT_TOKENS_PER_MINUTE="0",
        LLM_OUTPUT_TOKENS_PER_MINUTE="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra or {})
    return env


@dataclass
class WorkerPool:
    env: dict[str, str]
    count: int = 2
    concurrency: int = 6
    pool: str = "threads"
    log_dir: Path | None = None
    procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)

    def _command(self, index: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            self.pool,
            "--concurrency",
            str(self.concurrency),
            "--hostname",
            f"bench{index}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ]

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        out: int | IO[bytes] = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"worker{index}.log", "ab")  # noqa: SIM115 - lives as long as the worker
        return subprocess.Popen(self._command(index), cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def start(self) -> WorkerPool:
        self.procs = [self._spawn(i) for i in range(self.count)]
        return self

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown, no ack, no cleanup, like a machine losing power."""
        proc = self.procs[index]
        if proc is not None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            self.procs[index] = None

    def restart(self, index: int) -> None:
        self.procs[index] = self._spawn(index)

    def alive(self) -> list[bool]:
        return [p is not None and p.poll() is None for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.procs = []


def redis_flush(url: str) -> None:
    """Empty one Redis database (the benchmark's own broker or limiter database)."""
    redis.Redis.from_url(url).flushdb()


def wait_until(predicate: object, *, timeout_s: float, interval_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval_s)
    return False
