"""Webhook intake under load: 500 Label Studio events per second for 20 s into the app served by gunicorn.

The app runs under gunicorn with the production settings (``config.settings.production``, behind a TLS proxy:
the load generator sends ``X-Forwarded-Proto: https`` as the proxy would), on a PostgreSQL database of its own
(dropped and created afresh) and a Redis broker. Before the load, a review sample of N items is stored as if it
had been pushed to Label Studio (task ids and a project id in our tables, no Label Studio server: intake needs
none, it reads our own mapping). The load generator (``bench.loadtools.post_paced``: threads with keep-alive
connections, a fixed schedule, at most ``--in-flight`` requests open) then sends, for each task, the events a
reviewer produces: ANNOTATION_CREATED, two ANNOTATION_UPDATED, then ANNOTATIONS_DELETED (even tasks) or a third
ANNOTATION_UPDATED (odd tasks), phase after phase, each body signed with the shared secret.

The measured path is what the webhook endpoint does in the request: check the secret, validate, store the event,
queue its processing on Redis. Processing is not in it: the Celery workers start after the load and drain the
queue (timed separately), so the end state can be checked exactly:

* every request answered 200 (no error, no timeout), each with a new event id (none taken for a duplicate);
* events stored = events sent (counted in the database); after the drain every one is ``processed``;
* odd tasks: one live row per reviewed feature holding the last update; even tasks: no live row, a tombstone;
* resident memory of each gunicorn worker, sampled every second: first, after a tenth, last and max.

    python -m bench.bench_webhook_load            # 500/s for 20 s, database vitw_bench_webhook
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.loadtools import LoadResult, RssSampler, children, percentile, post_paced
from bench.report import record as record_benchmark
from testing.fake_anthropic.harness import REPO_ROOT, WorkerPool

TITLE = "Webhook intake under load: 500 events/s for 20 s (bench.bench_webhook_load)"
SECRET = "bench-webhook-secret"
FEATURES = ["subjectivity", "ai_values", "human_values", "response_type", "task"]
REVIEWED = ("ai_values", "response_type")  # each annotation reviews these two features
FIRST_TASK = 700_000
FIRST_ANNOTATION = 900_000
REVIEWER_LS_ID = 42
WARMUP_ACTION = "BENCH_WARMUP"
QUEUE = "bench-webhook-load"  # bench.settings_webhook_load: a queue of its own on the shared broker database
TIMES = ("2026-01-01T10:00:00+00:00", "2026-01-01T10:05:00+00:00", "2026-01-01T10:10:00+00:00")
LAST_TIME = "2026-01-01T10:15:00+00:00"


def _review(task: int, version: int) -> list[dict[str, Any]]:
    from annotate.labeling_config import FeatureReview, review_result

    reviews = [
        FeatureReview(feature="ai_values", verdict="correct", reasoning_check="sound", comment=f"v{version}"),
        FeatureReview(
            feature="response_type",
            verdict="incorrect" if (task + version) % 2 else "correct",
            labels=["reframing"],
            comment=f"v{version}",
        ),
    ]
    return [region for r in reviews for region in review_result(r)]


def _annotation_event(action: str, task: int, version: int, updated_at: str) -> dict[str, Any]:
    return {
        "action": action,
        "annotation": {
            "id": FIRST_ANNOTATION + task,
            "task": FIRST_TASK + task,
            "completed_by": REVIEWER_LS_ID,
            "result": _review(task, version),
            "lead_time": 10.0 + version,
            "was_cancelled": False,
            "updated_at": updated_at,
        },
        "task": {"id": FIRST_TASK + task},
        "project": {"id": 1},
    }


def events_plan(*, tasks: int) -> list[bytes]:
    """Four events per task, phase after phase: created, updated, updated, then deleted (even) or updated (odd)."""
    phases: list[list[dict[str, Any]]] = [[], [], [], []]
    for task in range(tasks):
        phases[0].append(_annotation_event("ANNOTATION_CREATED", task, 0, TIMES[0]))
        phases[1].append(_annotation_event("ANNOTATION_UPDATED", task, 1, TIMES[1]))
        phases[2].append(_annotation_event("ANNOTATION_UPDATED", task, 2, TIMES[2]))
        if task % 2 == 0:
            deleted = [{"id": FIRST_ANNOTATION + task}]
            phases[3].append({"action": "ANNOTATIONS_DELETED", "annotations": deleted, "project": {"id": 1}})
        else:
            phases[3].append(_annotation_event("ANNOTATION_UPDATED", task, 3, LAST_TIME))
    return [json.dumps(event).encode() for phase in phases for event in phase]


@dataclass
class EndState:
    live_rows: int
    live_rows_expected: int
    live_rows_wrong: int  # live rows of a deleted annotation, or not holding the last update
    tombstones: int
    tombstones_expected: int

    def exact(self) -> bool:
        return (
            self.live_rows == self.live_rows_expected
            and self.live_rows_wrong == 0
            and self.tombstones == self.tombstones_expected
        )


def end_state(*, tasks: int) -> EndState:
    """What the annotations tables hold after every event of ``events_plan(tasks=tasks)`` was applied."""
    from annotate.models import Annotation, AnnotationTombstone

    deleted = {FIRST_ANNOTATION + t for t in range(0, tasks, 2)}
    live = list(Annotation.objects.filter(deleted=False).values_list("label_studio_annotation_id", "comment"))
    wrong = sum(1 for annotation_id, comment in live if annotation_id in deleted or comment != "v3")
    return EndState(
        live_rows=len(live),
        live_rows_expected=(tasks // 2) * len(REVIEWED),
        live_rows_wrong=wrong,
        tombstones=AnnotationTombstone.objects.filter(label_studio_annotation_id__in=deleted).count(),
        tombstones_expected=len(deleted),
    )


def sample_pushed(*, tasks: int) -> None:
    """A run with extractions for ``tasks`` conversations, a sample of them, mapped to Label Studio tasks."""
    from annotate import services
    from annotate.models import LabelStudioProject, LabelStudioTask
    from corpus.models import Conversation, Dataset
    from extraction.models import Extraction, ExtractionRun, ExtractionStatus, PromptVersion

    dataset = Dataset.objects.create(name="bench-webhook", description="Synthetic benchmark data.")
    run = ExtractionRun.objects.create(dataset=dataset, prompt_set="paper-v1", status="succeeded")
    versions = {
        f: PromptVersion.objects.get_or_create(prompt_set="paper-v1", feature=f, content_hash=f"bench-{f}")[0]
        for f in FEATURES
    }
    conversations = Conversation.objects.bulk_create(
        Conversation(
            dataset=dataset,
            external_id=f"webhook-{i:06d}",
            source="openai",
            model="example-assistant-large",
            messages=[
                {"role": "user", "content": f"({i}) Should I take the job offer or stay near my family?"},
                {"role": "assistant", "content": "It depends on what you value most; here are some questions."},
            ],
            content_hash=f"webhook-{i}",
            turn_count=2,
        )
        for i in range(tasks)
    )
    Extraction.objects.bulk_create(
        (
            Extraction(
                conversation=c,
                run=run,
                feature=f,
                prompt_version=versions[f],
                model="example-model",
                status=ExtractionStatus.OK,
                labels=["yes"] if f == "subjectivity" else ["reframing"] if f == "response_type" else ["helpfulness"],
                thinking="The assistant helps the user weigh options.",
            )
            for c in conversations
            for f in FEATURES
        ),
        batch_size=5000,
    )
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=tasks, seed=1, features=FEATURES)
    annotator = services.annotator_get_or_create(email="reviewer-load@example.org")
    annotator.label_studio_user_id = REVIEWER_LS_ID
    annotator.save()
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=[annotator.pk], reviewers_per_item=1)
    LabelStudioProject.objects.update(label_studio_project_id=1)
    links = list(LabelStudioTask.objects.order_by("item__position", "pk"))
    for n, link in enumerate(links):
        link.label_studio_task_id = FIRST_TASK + n
    LabelStudioTask.objects.bulk_update(links, ["label_studio_task_id"], batch_size=1000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(*, database_url: str, broker_url: str, cache_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings_webhook_load",  # production, with a queue of its own
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_BEHIND_TLS_PROXY="true",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        CACHE_URL=cache_url,  # shared by the web workers, as in production: one queued drain per burst of calls
        CELERY_RESULT_BACKEND="",
        LABEL_STUDIO_WEBHOOK_SECRET=SECRET,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def database_recreate(*, admin_url: str, name: str, template: str = "") -> None:
    """Drop ``name`` and create it afresh, empty or as a copy of ``template``."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def database_exists(*, admin_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def gunicorn_start(*, env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    log = REPO_ROOT / "var" / "bench-logs" / "gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",  # the app and its URL modules imported once, before the workers fork
        "bench.wsgi_preloaded:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "300",
        "--backlog",
        "2048",
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    import http.client

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}); see var/bench-logs/gunicorn.log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0]), timeout=120)
            conn.request("POST", "/api/annotate/webhooks/label-studio/", body=b"{}", headers=_headers())
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer in time")


def _headers() -> dict[str, str]:
    from annotate.webhook_auth import project_secret

    signed = project_secret(secret=SECRET, project_id=1)  # what the webhook of Label Studio project 1 sends
    return {"X-Webhook-Secret": signed, "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


def warm_up(*, url: str, workers: int) -> None:
    """A few stored events of an action intake ignores, so every worker has its connections open."""
    bodies = [json.dumps({"action": WARMUP_ACTION, "n": i}).encode() for i in range(40 * workers)]
    result = post_paced(url=url, bodies=bodies, rate=100, max_in_flight=workers * 2, headers=_headers())
    if set(result.statuses()) != {200}:
        raise RuntimeError(f"warm-up answers: {dict(result.statuses())}")


@dataclass
class Figures:
    load: LoadResult
    stored: int
    new_event_ids: int
    drain_s: float
    left_received: int
    not_processed: int
    state: EndState


def answers_check(result: LoadResult) -> int:
    """The number of distinct new event ids among the 200 answers (each must be new: none is a duplicate)."""
    ids = set()
    for sent in result.sent:
        if sent.status == 200:
            answer = json.loads(sent.body)
            if not answer.get("duplicate"):
                ids.add(answer["event"])
    return len(ids)


def drain(*, env: dict[str, str], workers: int, concurrency: int, timeout_s: float) -> tuple[float, int]:
    """Start Celery workers, wait until no event is left 'received'; the time it took and how many are left."""
    from annotate.models import EventStatus, WebhookEvent

    pool = WorkerPool(env=env, count=workers, concurrency=concurrency, log_dir=REPO_ROOT / "var" / "bench-logs")
    started = time.monotonic()
    pool.start()
    try:
        left = WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count()
        while left and time.monotonic() - started < timeout_s:
            time.sleep(2)
            left = WebhookEvent.objects.filter(status=EventStatus.RECEIVED).count()
            if not all(pool.alive()):
                raise RuntimeError("a worker died; see var/bench-logs")
    finally:
        pool.stop()
    return time.monotonic() - started, left


def run(args: argparse.Namespace) -> tuple[Figures, RssSampler]:
    from annotate.models import EventStatus, WebhookEvent

    database_url = f"{args.admin_url.rsplit('/', 1)[0]}/{args.database}"
    env = app_env(database_url=f"{database_url}?conn_max_age=60", broker_url=args.broker_url, cache_url=args.cache_url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/annotate/webhooks/label-studio/"
    bodies = events_plan(tasks=args.tasks)
    proc = gunicorn_start(env=env, port=port, workers=args.gunicorn_workers)
    try:
        _wait_until_up(url, proc)
        warm_up(url=url, workers=args.gunicorn_workers)
        sampler = RssSampler(lambda: {f"gunicorn worker {i + 1}": p for i, p in enumerate(children(proc.pid))})
        with sampler:
            result = post_paced(
                url=url, bodies=bodies, rate=args.rate, max_in_flight=args.in_flight, headers=_headers()
            )
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        proc.wait(timeout=120)
    stored = WebhookEvent.objects.exclude(action=WARMUP_ACTION).count()
    worker = {**env, "DATABASE_URL": database_url}
    drain_s, left = (0.0, -1) if args.no_drain else drain(env=worker, workers=2, concurrency=4, timeout_s=600)
    figures = Figures(
        load=result,
        stored=stored,
        new_event_ids=answers_check(result),
        drain_s=drain_s,
        left_received=left,
        not_processed=WebhookEvent.objects.exclude(status=EventStatus.PROCESSED).count(),
        state=end_state(tasks=args.tasks),
    )
    return figures, sampler


def summary(f: Figures, *, sent: int, rate: float, seconds: float, drained: bool) -> tuple[list[str], bool]:
    lat = f.load.latencies_ms()
    late = f.load.lateness_ms()
    statuses = f.load.statuses()
    errors = sum(n for status, n in statuses.items() if status != 200)
    lines = [
        f"sent {sent} events in {f.load.finished - f.load.started:.1f} s (scheduled: {rate:.0f}/s for {seconds:.0f} s)"
        f": achieved {f.load.rate():.1f}/s; answers {dict(sorted(statuses.items()))}, errors {errors}",
        f"latency ms: p50 {percentile(lat, 50):.1f}, p95 {percentile(lat, 95):.1f}, p99 {percentile(lat, 99):.1f}, "
        f"max {max(lat, default=0):.1f}; sent late (behind schedule) ms: p99 {percentile(late, 99):.1f}, "
        f"max {max(late, default=0):.1f}",
        f"events stored {f.stored} of {sent} sent (counted in PostgreSQL), new event ids in the answers "
        f"{f.new_event_ids}",
    ]
    ok = errors == 0 and f.stored == sent and f.new_event_ids == sent
    if drained:
        s = f.state
        lines.append(
            f"drained by 2 Celery workers x 4 threads in {f.drain_s:.0f} s ({sent / f.drain_s:.0f} events/s); "
            f"events not processed {f.not_processed}; live rows {s.live_rows} (expected {s.live_rows_expected}), "
            f"wrong {s.live_rows_wrong}; tombstones {s.tombstones} (expected {s.tombstones_expected})"
        )
        ok = ok and f.not_processed == 0 and s.exact()
    return lines, ok


def _args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500, help="events per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--in-flight", type=int, default=32, help="most requests open at once")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument(
        "--admin-url", default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--database", default="vitw_bench_webhook")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/10"))
    parser.add_argument("--cache-url", default=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--no-drain", action="store_true", help="leave the queue as it is (no workers started)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--build-template", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(list(argv))


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:] if __name__ == "__main__" else []
    args = _args(argv)
    from django.conf import settings as django_settings

    if django_settings.configured:  # set up by another benchmark in this process (bench.run_all): start afresh
        return subprocess.call([sys.executable, "-m", "bench.bench_webhook_load", *argv], cwd=REPO_ROOT)
    sent = int(args.rate * args.seconds)
    args.tasks = sent // 4
    # The migrated database with the pushed sample is built once (slow on a busy machine) and copied per run.
    template = f"{args.database}_template_{args.tasks}"
    if args.build_template:
        return _template_build(args, name=template)
    if not database_exists(admin_url=args.admin_url, name=template):
        build = [sys.executable, "-m", "bench.bench_webhook_load", *argv, "--build-template"]
        subprocess.check_call(build, cwd=REPO_ROOT)
    database_recreate(admin_url=args.admin_url, name=args.database, template=template)
    database_url = f"{args.admin_url.rsplit('/', 1)[0]}/{args.database}"
    os.environ.update(app_env(database_url=database_url, broker_url=args.broker_url, cache_url=args.cache_url))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the template may predate the latest migrations
    if not args.no_drain:  # the drain then sees this run's messages only
        import redis

        redis.Redis.from_url(args.broker_url).delete(QUEUE)
    print(f"{sent} events at {args.rate:.0f}/s, at most {args.in_flight} in flight, gunicorn x {args.gunicorn_workers}")
    figures, sampler = run(args)
    lines, ok = summary(figures, sent=sent, rate=args.rate, seconds=args.seconds, drained=not args.no_drain)
    lines += ["resident memory per gunicorn worker, sampled every second during the load:"]
    lines += [f"  {line}" for line in sampler.lines()]
    for line in lines:
        print(line)
    if not args.no_write:
        _write(args, lines)
    return 0 if ok else 1


def _template_build(args: argparse.Namespace, *, name: str) -> int:
    database_recreate(admin_url=args.admin_url, name=name)
    os.environ.update(
        app_env(
            database_url=f"{args.admin_url.rsplit('/', 1)[0]}/{name}",
            broker_url=args.broker_url,
            cache_url=args.cache_url,
        )
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    sample_pushed(tasks=args.tasks)
    connections.close_all()
    return 0


def _write(args: argparse.Namespace, lines: list[str]) -> None:
    command = (
        f".venv/bin/python -m bench.bench_webhook_load --rate {args.rate:.0f} --seconds {args.seconds:.0f} "
        f"--in-flight {args.in_flight} --gunicorn-workers {args.gunicorn_workers}"
    )
    body = (
        f"gunicorn ({args.gunicorn_workers} sync workers, `--preload`) serving the app with the production settings "
        "behind a TLS proxy (X-Forwarded-Proto sent by the load generator), PostgreSQL (its own database, persistent "
        "connections: `?conn_max_age=60`), Redis broker; the load generator on the same machine (loopback), "
        f"at most {args.in_flight} requests in flight. {args.tasks} review tasks of a sample stored as pushed (no "
        "Label Studio server: intake reads our own mapping); four events per task (created, updated, updated, "
        "then deleted or updated). Measured: the request path (secret, validation, store, queue). Processing runs "
        "after the load (timed separately) so the end state can be checked exactly. 2 cores, shared with other "
        "work.\n\n" + "\n".join(f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}" for line in lines)
    )
    record_benchmark(TITLE, command, body)


if __name__ == "__main__":
    raise SystemExit(main())
