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

import os
import statistics
import sys

from bench.extraction_workers import (
    answer_times,
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
from bench.report import record as record_benchmark
from testing.fake_anthropic import FakeConfig

DATASET = "bench-hh-rlhf"
TITLE = "Extraction throughput (bench.bench_extraction_throughput)"


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

    expected = conversations * len(ALL_FEATURES)
    with workers_on_fake(
        fake_config=FakeConfig(latency_ms=latency_ms, rpm=rpm),
        broker_url=broker_url,
        limiter_url=limiter_url,
        requests_per_minute=rpm,
        workers=workers,
        concurrency=concurrency,
        connect_wait_s=3,
    ) as (fake, pool):
        run = run_new(dataset=DATASET, conversations=conversations)
        queued, wall = run_queue_and_wait(run=run, pool=pool, expected=expected, timeout_s=timeout_s, report_every_s=30)
    figures = run_figures(run=run, fake=fake, queued=queued, expected=expected, wall_s=wall)
    times = answer_times(fake)
    span = figures["span_s"]
    # Per-minute rate in 10-second windows after the first 10 s: the steady state.
    windows = []
    if times:
        t = times[0] + 10
        while t + 10 <= times[-1]:
            windows.append(sum(1 for x in times if t <= x < t + 10) * 6)
            t += 10
    return {
        **figures,
        "rate_limited": len(fake.requests("message", 429)),
        "per_minute": (len(times) - 1) / span * 60 if len(times) > 1 else 0.0,
        "window_median_per_minute": statistics.median(windows) if windows else float("nan"),
        "window_min_per_minute": min(windows) if windows else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = arguments(doc=__doc__, conversations=1000, latency_ms=300, workers=2, concurrency=6, timeout_s=3600)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--limiter-url", default=os.environ.get("BENCH_LIMITER_URL", "redis://127.0.0.1:6379/11"))
    argv = argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    args = parser.parse_args(argv)
    refused = preflight(module="bench.bench_extraction_throughput", argv=argv, data=args.data)
    if refused is not None:
        return refused
    django_setup(broker_url=args.broker_url)
    dataset_prepare(dataset=DATASET, conversations=args.conversations, source=lambda: args.data, skip_invalid=True)
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
    lines = [
        items_line(r),
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
    return 0 if nothing_lost(r) else 1


if __name__ == "__main__":
    raise SystemExit(main())
