"""The frame the extraction benchmarks share: real Celery workers on Redis and PostgreSQL, the fake Anthropic server.

``bench.bench_extraction_throughput`` (the API's rate limit) and ``bench.bench_extraction_load`` (a long queue)
differ in their data, their fake API and the figures they add; the rest is here: the checks before Django starts,
the dataset made fresh, the workers and the fake server started and stopped together, the run queued and waited
for, and the figures both report (items lost, failed or stored twice, requests answered twice, timings).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from testing.fake_anthropic import FakeAnthropic, FakeConfig
from testing.fake_anthropic.harness import REPO_ROOT, WorkerPool, redis_flush, worker_env

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
LOG_DIR = REPO_ROOT / "var" / "bench-logs"


def arguments(
    *, doc: str | None, conversations: int, latency_ms: float, workers: int, concurrency: int, timeout_s: float
) -> argparse.ArgumentParser:
    """The options both benchmarks take, with each one's defaults; a benchmark adds its own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--conversations", type=int, default=conversations)
    parser.add_argument("--latency-ms", type=float, default=latency_ms)
    parser.add_argument("--workers", type=int, default=workers)
    parser.add_argument("--concurrency", type=int, default=concurrency, help="threads per worker")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10"))
    parser.add_argument("--timeout-s", type=float, default=timeout_s)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    return parser


def preflight(*, module: str, argv: list[str], data: Path) -> int | None:
    """None when this process may run the benchmark; else its exit code, after running it in a fresh process
    (Django already set up here by another benchmark, bench.run_all, perhaps with tasks running eagerly)
    or saying what is missing."""
    from django.conf import settings as django_settings

    name = module.rsplit(".", 1)[-1]
    if django_settings.configured:
        return subprocess.call([sys.executable, "-m", module, *argv], cwd=REPO_ROOT)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print(f"{name} needs PostgreSQL: set DATABASE_URL=postgres://… (a benchmark database)")
        return 2
    if not data.is_file():
        print(f"{name}: {data} not found (pass --data PATH to harmless-base-test.jsonl.gz)")
        return 2
    return None


def django_setup(*, broker_url: str) -> None:
    """Django for the benchmark's own process: tasks go to ``broker_url``; DEBUG off (it keeps every query)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["CELERY_BROKER_URL"] = broker_url
    import django

    django.setup()


def dataset_prepare(
    *, dataset: str, conversations: int, source: Callable[[], Path], skip_invalid: bool = False
) -> None:
    """Migrate, import ``source()`` into ``dataset`` unless it already holds ``conversations`` (a re-import
    skips duplicates), and forget the dataset's earlier runs and extractions."""
    from django.core.management import call_command

    from corpus.models import Dataset
    from extraction.models import Extraction, ExtractionRun

    call_command("migrate", verbosity=0)
    found = Dataset.objects.filter(name=dataset).first()
    if found is None or found.conversations.count() < conversations:
        options: dict[str, Any] = {"dataset": dataset, "no_progress": True}
        if skip_invalid:
            options["skip_invalid"] = True
        call_command("import_conversations", str(source()), **options)
    Extraction.objects.filter(conversation__dataset__name=dataset).delete()
    ExtractionRun.objects.filter(dataset__name=dataset).delete()


@contextmanager
def workers_on_fake(
    *,
    fake_config: FakeConfig,
    broker_url: str,
    limiter_url: str,
    requests_per_minute: int,
    workers: int,
    concurrency: int,
    connect_wait_s: float,
) -> Iterator[tuple[FakeAnthropic, WorkerPool]]:
    """The fake server and ``workers`` worker processes on flushed Redis databases, given ``connect_wait_s`` to
    connect before anything is queued; both stopped on the way out."""
    fake = FakeAnthropic(fake_config)
    base_url = fake.serve("127.0.0.1", 0)
    for url in {broker_url, limiter_url}:
        redis_flush(url)
    env = worker_env(
        database_url=os.environ["DATABASE_URL"],
        broker_url=broker_url,
        limiter_redis_url=limiter_url,
        anthropic_base_url=base_url,
        requests_per_minute=requests_per_minute,
    )
    pool = WorkerPool(env=env, count=workers, concurrency=concurrency, log_dir=LOG_DIR)
    pool.start()
    try:
        time.sleep(connect_wait_s)
        yield fake, pool
    finally:
        pool.stop()
        fake.shutdown()


def run_new(*, dataset: str, conversations: int) -> Any:
    """A paper-v1 run of every feature over the first ``conversations`` of ``dataset`` (not yet queued)."""
    from extraction.services import run_create

    return run_create(
        dataset=dataset, prompt_set="paper-v1", provider="anthropic", limit=conversations, all_conversations=True
    )


def run_queue_and_wait(
    *, run: Any, pool: WorkerPool, expected: int, timeout_s: float, report_every_s: float
) -> tuple[int, float]:
    """Queue ``run`` and wait until it succeeded or failed (or ``timeout_s``), printing progress every
    ``report_every_s``; returns the tasks queued and the seconds from queueing to the end."""
    from extraction.models import Extraction, RunStatus
    from extraction.services import run_queue

    started = time.monotonic()
    queued = run_queue(run=run)
    last_report = 0.0
    while time.monotonic() - started < timeout_s:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            break
        if time.monotonic() - last_report > report_every_s:
            done = Extraction.objects.filter(run=run).count()
            print(f"  {time.monotonic() - started:6.0f}s  {done}/{expected} items", flush=True)
            last_report = time.monotonic()
        if not all(pool.alive()):
            raise RuntimeError(f"a worker died; see {LOG_DIR}")
        time.sleep(1)
    return queued, time.monotonic() - started


def answer_times(fake: FakeAnthropic) -> list[float]:
    """When each request the fake answered with 200 was answered, in order."""
    return sorted(r.at for r in fake.requests("message", 200))


def run_figures(*, run: Any, fake: FakeAnthropic, queued: int, expected: int, wall_s: float) -> dict[str, float]:
    """What both benchmarks check: items stored, distinct, failed; the run's end; requests answered, and
    answered twice; the span between the first and the last answer."""
    from extraction.models import Extraction, ExtractionStatus, RunStatus

    times = answer_times(fake)
    rows = Extraction.objects.filter(run=run)
    run.refresh_from_db()
    return {
        "queued": queued,
        "expected": expected,
        "stored": rows.count(),
        "distinct_items": rows.values("conversation_id", "feature").distinct().count(),
        "failed": rows.filter(status=ExtractionStatus.FAILED).count(),
        "status_ok": float(run.status == RunStatus.SUCCEEDED),
        "answered": len(times),
        "duplicates": sum(n - 1 for n in fake.duplicates().values()),
        "span_s": times[-1] - times[0] if len(times) > 1 else float("nan"),
        "wall_s": wall_s,
    }


def items_line(figures: dict[str, float]) -> str:
    """The first line of both reports: items expected, stored, failed and lost, and whether the run succeeded."""
    r = figures
    lost = r["expected"] - r["distinct_items"]
    return (
        f"items expected {r['expected']:.0f}, stored {r['stored']:.0f} (distinct {r['distinct_items']:.0f}), "
        f"failed {r['failed']:.0f}, lost {lost:.0f}; run succeeded: {bool(r['status_ok'])}"
    )


def nothing_lost(figures: dict[str, float]) -> bool:
    """Every item stored once, none failed, no request answered twice."""
    r = figures
    return r["expected"] == r["distinct_items"] and r["duplicates"] == 0 and r["failed"] == 0
