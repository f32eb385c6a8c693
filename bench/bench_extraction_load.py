"""Extraction under load: 10,000 conversations x six features, four Celery workers, the fake API.

The conversations are the 2,312 of the hh-rlhf harmless-base test split, each written several times
with a variant marker in its first message (``[variant k]``) until there are N distinct ones
(``variants_write``); they are imported into the dataset "bench-load-hh-rlhf". All six paper-v1 features
(subjectivity filter off, so every feature runs on every conversation) go to the local fake Anthropic
server (``testing/fake_anthropic``) with a short latency and no rate limit: the point is the system's own
behaviour under a long queue, not the API's limit (bench.bench_extraction_throughput measures that).
Four ``celery worker`` processes (threads pool) on Redis and PostgreSQL do the work through
``extraction.tasks``; their resident memory is sampled every few seconds from /proc.

Checked, from the fake server's request log and the database:
* nothing lost: one Extraction row per (conversation, feature), none failed, the run succeeded;
* nothing duplicated: no request answered 200 twice, no (conversation, feature) stored twice;
* resident memory of each worker: first, after the first tenth of the run, last and max.

Needs PostgreSQL (DATABASE_URL, a benchmark database: it deletes its own dataset's extractions) and Redis.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitw_bench_load \\
    python -m bench.bench_extraction_load --conversations 10000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.loadtools import RssSampler
from bench.report import record as record_benchmark
from testing.fake_anthropic import FakeAnthropic, FakeConfig
from testing.fake_anthropic.harness import REPO_ROOT, WorkerPool, redis_flush, worker_env

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
DATASET = "bench-load-hh-rlhf"
TITLE = "Extraction under load: 10,000 conversations, 4 workers (bench.bench_extraction_load)"


def _hh_conversations(source: Path) -> list[list[dict[str, str]]]:
    from corpus.importers import RecordError, parse_hh_transcript

    out = []
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                out.append(parse_hh_transcript(json.loads(line)["chosen"]))
            except (RecordError, KeyError, ValueError):
                continue
    return out


def variants(base: list[list[dict[str, str]]], count: int) -> Iterator[dict[str, Any]]:
    """``count`` distinct conversations in the OpenAI messages format: the base ones, then marked variants."""
    for index in range(count):
        k, i = divmod(index, len(base))
        messages = [dict(m) for m in base[i]]
        if k:
            messages[0]["content"] = f"[variant {k}] {messages[0]['content']}"
        yield {"id": f"load-{i}-v{k}", "messages": messages}


def variants_write(*, source: Path, count: int, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt", encoding="utf-8") as fh:
        for record in variants(_hh_conversations(source), count):
            fh.write(json.dumps(record) + "\n")
    return target


def prepare(*, data: Path, conversations: int) -> None:
    """Migrate, import the conversations (a re-import skips duplicates), forget earlier extractions."""
    from django.core.management import call_command

    from corpus.models import Dataset
    from extraction.models import Extraction, ExtractionRun

    call_command("migrate", verbosity=0)
    dataset = Dataset.objects.filter(name=DATASET).first()
    if dataset is None or dataset.conversations.count() < conversations:
        path = variants_write(
            source=data, count=conversations, target=REPO_ROOT / "var" / "bench-data" / f"load-{conversations}.jsonl.gz"
        )
        call_command("import_conversations", str(path), dataset=DATASET, no_progress=True)
    Extraction.objects.filter(conversation__dataset__name=DATASET).delete()
    ExtractionRun.objects.filter(dataset__name=DATASET).delete()


def _wait_for_run(*, run: Any, pool: WorkerPool, expected: int, timeout_s: float) -> float:
    from extraction.models import Extraction, RunStatus

    started = time.monotonic()
    last_report = 0.0
    while time.monotonic() - started < timeout_s:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            break
        if time.monotonic() - last_report > 60:
            done = Extraction.objects.filter(run=run).count()
            print(f"  {time.monotonic() - started:6.0f}s  {done}/{expected} items", flush=True)
            last_report = time.monotonic()
        if not all(pool.alive()):
            raise RuntimeError(f"a worker died; see {REPO_ROOT / 'var' / 'bench-logs'}")
        time.sleep(1)
    return time.monotonic() - started


def run_once(
    *, conversations: int, latency_ms: float, workers: int, concurrency: int, broker_url: str, timeout_s: float
) -> tuple[dict[str, float], RssSampler]:
    from extraction.features import ALL_FEATURES
    from extraction.models import Extraction, ExtractionStatus, RunStatus
    from extraction.services import run_create, run_queue

    fake = FakeAnthropic(FakeConfig(latency_ms=latency_ms))
    base_url = fake.serve("127.0.0.1", 0)
    redis_flush(broker_url)
    env = worker_env(
        database_url=os.environ["DATABASE_URL"],
        broker_url=broker_url,
        limiter_redis_url=broker_url,  # the limiter's keys (ratelimit:*) live beside the queue's
        anthropic_base_url=base_url,
        requests_per_minute=0,
    )
    pool = WorkerPool(env=env, count=workers, concurrency=concurrency, log_dir=REPO_ROOT / "var" / "bench-logs")
    pool.start()

    def worker_pids() -> dict[str, int]:
        return {f"worker {i + 1}": p.pid for i, p in enumerate(pool.procs) if p is not None}

    sampler = RssSampler(worker_pids, interval_s=5.0)
    try:
        time.sleep(5)  # let the workers connect before the queue fills
        run = run_create(
            dataset=DATASET, prompt_set="paper-v1", provider="anthropic", limit=conversations, all_conversations=True
        )
        expected = conversations * len(ALL_FEATURES)
        sampler.start()
        queued = run_queue(run=run)
        wall = _wait_for_run(run=run, pool=pool, expected=expected, timeout_s=timeout_s)
        sampler.stop()
    finally:
        pool.stop()
        fake.shutdown()
    times = sorted(r.at for r in fake.requests("message", 200))
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rows = Extraction.objects.filter(run=run)
    run.refresh_from_db()
    figures = {
        "queued": queued,
        "expected": expected,
        "stored": rows.count(),
        "distinct_items": rows.values("conversation_id", "feature").distinct().count(),
        "failed": rows.filter(status=ExtractionStatus.FAILED).count(),
        "status_ok": float(run.status == RunStatus.SUCCEEDED),
        "answered": len(times),
        "errors": len(fake.requests("message", None)) - len(times),
        "duplicates": sum(n - 1 for n in fake.duplicates().values()),
        "span_s": span,
        "wall_s": wall,
        "per_second": (len(times) - 1) / span if len(times) > 1 else 0.0,
    }
    return figures, sampler


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10"))
    parser.add_argument("--timeout-s", type=float, default=3 * 3600)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    args = _args(argv)
    from django.conf import settings as django_settings

    if django_settings.configured:  # set up by another benchmark in this process (bench.run_all): start afresh
        return subprocess.call([sys.executable, "-m", "bench.bench_extraction_load", *argv], cwd=REPO_ROOT)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("bench_extraction_load needs PostgreSQL: set DATABASE_URL=postgres://… (a benchmark database)")
        return 2
    if not args.data.is_file():
        print(f"bench_extraction_load: {args.data} not found (pass --data PATH to harmless-base-test.jsonl.gz)")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["CELERY_BROKER_URL"] = args.broker_url
    import django

    django.setup()
    prepare(data=args.data, conversations=args.conversations)
    print(
        f"{args.conversations} conversations x 6 features, {args.workers} workers x {args.concurrency} threads, "
        f"fake API {args.latency_ms:.0f} ms, no rate limit",
        flush=True,
    )
    r, sampler = run_once(
        conversations=args.conversations,
        latency_ms=args.latency_ms,
        workers=args.workers,
        concurrency=args.concurrency,
        broker_url=args.broker_url,
        timeout_s=args.timeout_s,
    )
    lost = r["expected"] - r["distinct_items"]
    lines = [
        f"items expected {r['expected']:.0f}, stored {r['stored']:.0f} (distinct {r['distinct_items']:.0f}), "
        f"failed {r['failed']:.0f}, lost {lost:.0f}; run succeeded: {bool(r['status_ok'])}",
        f"requests answered {r['answered']:.0f}, answered twice {r['duplicates']:.0f}, "
        f"answered with an error {r['errors']:.0f}",
        f"wall time {r['wall_s']:.0f} s (queue to run finished); {r['per_second']:.1f} requests/s "
        f"({r['per_second'] * 60:.0f}/min) between the first and the last answer",
        "resident memory per worker process, sampled every 5 s:",
        *[f"  {line}" for line in sampler.lines()],
    ]
    for line in lines:
        print(line)
    if not args.no_write:
        _write(args, lines)
    return 0 if (lost == 0 and r["duplicates"] == 0 and r["failed"] == 0 and r["errors"] == 0) else 1


def _write(args: argparse.Namespace, lines: list[str]) -> None:
    command = (
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/vitw_bench_load .venv/bin/python -m "
        f"bench.bench_extraction_load --conversations {args.conversations} --latency-ms {args.latency_ms:.0f} "
        f"--workers {args.workers} --concurrency {args.concurrency}"
    )
    body = (
        f"All six paper-v1 features (subjectivity filter off) for {args.conversations} conversations (the 2,312 "
        "hh-rlhf harmless-base test conversations, repeated with a variant marker in the first message), "
        f"{args.workers} Celery worker processes x {args.concurrency} threads on Redis and PostgreSQL, against the "
        f"local fake API (`testing/fake_anthropic`, {args.latency_ms:.0f} ms latency, no rate limit: the API's "
        "limit is the throughput benchmark's subject). 2 cores, shared with other work.\n\n"
        + "\n".join(f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}" for line in lines)
    )
    record_benchmark(TITLE, command, body)


if __name__ == "__main__":
    raise SystemExit(main())
