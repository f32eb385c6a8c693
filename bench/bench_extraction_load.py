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
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.extraction_workers import (
    arguments,
    dataset_prepare,
    django_setup,
    items_line,
    nothing_lost,
    preflight,
    run_figures,
    run_new,
    run_queue_and_wait,
    workers_on_fake,
)
from bench.loadtools import RssSampler
from bench.report import record as record_benchmark
from testing.fake_anthropic import FakeConfig
from testing.fake_anthropic.harness import REPO_ROOT

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


def run_once(
    *, conversations: int, latency_ms: float, workers: int, concurrency: int, broker_url: str, timeout_s: float
) -> tuple[dict[str, float], RssSampler]:
    from extraction.features import ALL_FEATURES

    expected = conversations * len(ALL_FEATURES)
    with workers_on_fake(
        fake_config=FakeConfig(latency_ms=latency_ms),
        broker_url=broker_url,
        limiter_url=broker_url,  # the limiter's keys (ratelimit:*) live beside the queue's
        requests_per_minute=0,
        workers=workers,
        concurrency=concurrency,
        connect_wait_s=5,
    ) as (fake, pool):

        def worker_pids() -> dict[str, int]:
            return {f"worker {i + 1}": p.pid for i, p in enumerate(pool.procs) if p is not None}

        sampler = RssSampler(worker_pids, interval_s=5.0)
        run = run_new(dataset=DATASET, conversations=conversations)
        sampler.start()
        try:
            queued, wall = run_queue_and_wait(
                run=run, pool=pool, expected=expected, timeout_s=timeout_s, report_every_s=60
            )
        finally:
            sampler.stop()
    figures = run_figures(run=run, fake=fake, queued=queued, expected=expected, wall_s=wall)
    span = figures["span_s"]
    answered = figures["answered"]
    return {
        **figures,
        "errors": len(fake.requests("message", None)) - answered,
        "per_second": (answered - 1) / span if answered > 1 else 0.0,
    }, sampler


def _args(argv: list[str]) -> argparse.Namespace:
    parser = arguments(doc=__doc__, conversations=10_000, latency_ms=20, workers=4, concurrency=4, timeout_s=3 * 3600)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    args = _args(argv)
    refused = preflight(module="bench.bench_extraction_load", argv=argv, data=args.data)
    if refused is not None:
        return refused
    django_setup(broker_url=args.broker_url)
    dataset_prepare(
        dataset=DATASET,
        conversations=args.conversations,
        source=lambda: variants_write(
            source=args.data,
            count=args.conversations,
            target=REPO_ROOT / "var" / "bench-data" / f"load-{args.conversations}.jsonl.gz",
        ),
    )
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
    lines = [
        items_line(r),
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
    return 0 if (nothing_lost(r) and r["errors"] == 0) else 1


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
