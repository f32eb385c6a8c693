"""Extraction throughput: two real Celery workers, the shared rate limiter, the fake API at its limit.

All six paper-v1 features for N hh-rlhf conversations (default 1,000; the subjectivity filter off
so every feature runs on every conversation: 6 requests each) against the fake Anthropic server
with 300 ms latency and a 600 requests/minute limit (429 with retry-after above it). Two
``celery worker`` processes on Redis and PostgreSQL do the work through ``extraction.tasks``.

Checked, from the fake server's request log and the database:
* nothing lost: one Extraction row per (conversation, feature), none failed;
* nothing duplicated: no request answered 200 twice;
* sustained throughput (answered requests per minute between the first and the last answer) as a
  share of the limit (the reference: the most the account allows).

Needs PostgreSQL (DATABASE_URL) and Redis. It deletes the extraction rows of its own dataset
("bench-hh-rlhf") before it starts, in the database it is given: use a benchmark database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitw_bench \\
    python -m bench.bench_extraction_throughput --data ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.report import record as record_benchmark
from testing.fake_anthropic import FakeAnthropic, FakeConfig
from testing.fake_anthropic.harness import REPO_ROOT, WorkerPool, redis_flush, worker_env

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
DATASET = "bench-hh-rlhf"
TITLE = "Extraction throughput (bench.bench_extraction_throughput)"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10")
    import django

    django.setup()


def prepare(*, data: Path, conversations: int) -> None:
    """Migrate, import the conversations (a re-import skips duplicates), forget earlier extractions."""
    from django.core.management import call_command

    from corpus.models import Dataset
    from extraction.models import Extraction, ExtractionRun

    call_command("migrate", verbosity=0)
    dataset = Dataset.objects.filter(name=DATASET).first()
    if dataset is None or dataset.conversations.count() < conversations:
        call_command("import_conversations", str(data), dataset=DATASET, no_progress=True, skip_invalid=True)
    Extraction.objects.filter(conversation__dataset__name=DATASET).delete()
    ExtractionRun.objects.filter(dataset__name=DATASET).delete()


def run_once(
    *,
    conversations: int,
    latency_ms: float,
    rpm: int,
    workers: int,
    concurrency: int,
    broker_url: str,
    limiter_url: str,
    timeout_s: float,
) -> dict[str, float]:
    from extraction.features import ALL_FEATURES
    from extraction.models import Extraction, ExtractionStatus, RunStatus
    from extraction.services import run_create, run_queue

    fake = FakeAnthropic(FakeConfig(latency_ms=latency_ms, rpm=rpm))
    base_url = fake.serve("127.0.0.1", 0)
    redis_flush(broker_url)
    redis_flush(limiter_url)
    env = worker_env(
        database_url=os.environ["DATABASE_URL"],
        broker_url=broker_url,
        limiter_redis_url=limiter_url,
        anthropic_base_url=base_url,
        requests_per_minute=rpm,
    )
    pool = WorkerPool(env=env, count=workers, concurrency=concurrency, log_dir=REPO_ROOT / "var" / "bench-logs")
    pool.start()
    try:
        time.sleep(3)  # let the workers connect before the queue fills
        run = run_create(
            dataset=DATASET, prompt_set="paper-v1", provider="anthropic", limit=conversations, all_conversations=True
        )
        started = time.monotonic()
        queued = run_queue(run=run)
        expected = conversations * len(ALL_FEATURES)
        last_report = 0.0
        while time.monotonic() - started < timeout_s:
            run.refresh_from_db()
            if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
                break
            if time.monotonic() - last_report > 30:
                done = Extraction.objects.filter(run=run).count()
                print(f"  {time.monotonic() - started:6.0f}s  {done}/{expected} items", flush=True)
                last_report = time.monotonic()
            if not all(pool.alive()):
                raise RuntimeError(f"a worker died; see {REPO_ROOT / 'var' / 'bench-logs'}")
            time.sleep(1)
        wall = time.monotonic() - started
    finally:
        pool.stop()
        fake.shutdown()
    ok = fake.requests("message", 200)
    times = sorted(r.at for r in ok)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    per_minute = (len(times) - 1) / span * 60 if len(times) > 1 else 0.0
    # Per-minute rate in 10-second windows after the first 10 s: the steady state.
    windows = []
    t = times[0] + 10
    while t + 10 <= times[-1]:
        windows.append(sum(1 for x in times if t <= x < t + 10) * 6)
        t += 10
    rows = Extraction.objects.filter(run=run)
    stored = rows.count()
    failed = rows.filter(status=ExtractionStatus.FAILED).count()
    distinct_items = rows.values("conversation_id", "feature").distinct().count()
    run.refresh_from_db()
    return {
        "queued": queued,
        "expected": expected,
        "stored": stored,
        "distinct_items": distinct_items,
        "failed": failed,
        "status_ok": float(run.status == RunStatus.SUCCEEDED),
        "answered": len(ok),
        "rate_limited": len(fake.requests("message", 429)),
        "duplicates": sum(n - 1 for n in fake.duplicates().values()),
        "span_s": span,
        "wall_s": wall,
        "per_minute": per_minute,
        "window_median_per_minute": statistics.median(windows) if windows else float("nan"),
        "window_min_per_minute": min(windows) if windows else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=6, help="threads per worker")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10"))
    parser.add_argument("--limiter-url", default=os.environ.get("BENCH_LIMITER_URL", "redis://127.0.0.1:6379/11"))
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    argv = argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    args = parser.parse_args(argv)
    from django.conf import settings as django_settings

    if django_settings.configured:
        # Django was set up by another benchmark in this process (bench.run_all), possibly with tasks
        # running eagerly: this one needs its own settings (a broker), so it runs in a fresh process.
        return subprocess.call([sys.executable, "-m", "bench.bench_extraction_throughput", *argv], cwd=REPO_ROOT)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("bench_extraction_throughput needs PostgreSQL: set DATABASE_URL=postgres://… (a benchmark database)")
        return 2
    if not args.data.is_file():
        print(f"bench_extraction_throughput: {args.data} not found (pass --data PATH to harmless-base-test.jsonl.gz)")
        return 2
    _setup_django()
    prepare(data=args.data, conversations=args.conversations)
    print(
        f"{args.conversations} conversations x 6 features, {args.workers} workers x {args.concurrency} threads, "
        f"fake API {args.latency_ms:.0f} ms, limit {args.rpm}/min",
        flush=True,
    )
    r = run_once(
        conversations=args.conversations,
        latency_ms=args.latency_ms,
        rpm=args.rpm,
        workers=args.workers,
        concurrency=args.concurrency,
        broker_url=args.broker_url,
        limiter_url=args.limiter_url,
        timeout_s=args.timeout_s,
    )
    share = r["per_minute"] / args.rpm
    lost = r["expected"] - r["distinct_items"]
    lines = [
        f"items expected {r['expected']:.0f}, stored {r['stored']:.0f} (distinct {r['distinct_items']:.0f}), "
        f"failed {r['failed']:.0f}, lost {lost:.0f}; run succeeded: {bool(r['status_ok'])}",
        f"requests answered {r['answered']:.0f}, answered twice {r['duplicates']:.0f}, "
        f"429 answers {r['rate_limited']:.0f}",
        f"sustained throughput {r['per_minute']:.1f} requests/min over {r['span_s']:.0f} s "
        f"= {share:.1%} of the {args.rpm}/min limit "
        f"(10 s windows: median {r['window_median_per_minute']:.0f}/min, min {r['window_min_per_minute']:.0f}/min)",
    ]
    for line in lines:
        print(line)
    if not args.no_write:
        command = (
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitw_bench "
            ".venv/bin/python -m bench.bench_extraction_throughput "
            f"--data ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz --conversations {args.conversations} "
            f"--latency-ms {args.latency_ms:.0f} --rpm {args.rpm} --workers {args.workers} "
            f"--concurrency {args.concurrency}"
        )
        body = (
            f"All six paper-v1 features (subjectivity filter off) for {args.conversations} hh-rlhf conversations "
            f"(harmless-base test split), {args.workers} Celery worker processes x {args.concurrency} threads on "
            f"Redis and PostgreSQL, shared Redis rate limiter at {args.rpm}/min, against the local fake API "
            f"(`testing/fake_anthropic`, {args.latency_ms:.0f} ms latency, 429 with retry-after above "
            f"{args.rpm}/min). Reference: the limit itself. 2 shared cores.\n\n"
            + "\n".join(f"- {line}" for line in lines)
        )
        record_benchmark(TITLE, command, body)
    return 0 if (lost == 0 and r["duplicates"] == 0 and r["failed"] == 0) else 1


if __name__ == "__main__":
    raise SystemExit(main())
