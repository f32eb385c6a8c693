"""Benchmark: every page of every role's menu on a paper-scale dataset in PostgreSQL.

The dataset (bench/pagebench_data.py): 308,210 conversations of 2-8 turns, the six features' extractions of one run
(1.85 million rows), a review sample of 1,000 conversations judged by 3 reviewers (18,000 reviews, flags and
adjudications), two agreement snapshots, the published taxonomy (3,307 values, 4 levels) and a residual analysis of
AI values x task. It is built once in its own database and found again by its counts.

Each page is requested through Django's test client (the whole stack: middleware, sessions, views, templates) with
the production settings (DEBUG off), logged in as the lead, the prompt engineer or an annotator: a few warm-up
requests, then ``--requests`` timed ones, in ``--rounds`` rounds over every page (so other load on the machine is
spread over all of them). Figures per page: median of every request, 95th percentile (the median of the rounds'
95th percentiles), against the bound: 300 ms, 500 ms for the agreement page.

Command: ``python -m bench.bench_pages`` (``--requests N``, ``--rounds R``, ``--only SUBSTRING``, ``--no-record``).
``--cold`` empties the cache before each page's first request, so that "first" is the request that computes the
page's reports (after a change of the data, without the warm-up); ``--warm-up`` empties it once, then runs the
warm-up the product queues after a run ends (``corpus.cache.reports_warm``, timed), so that "first" is the first
request after a change with the warm-up done.
The database is ``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/vitw_bench_pages), created and
migrated when missing: never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SECTION = "Pages at the paper's scale (bench.bench_pages)"
COMMAND = ".venv/bin/python -m bench.bench_pages"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/vitw_bench_pages"
BOUND_MS = 300.0
AGREEMENT_BOUND_MS = 500.0
WARMUP = 2


@dataclass(frozen=True)
class Page:
    role: str
    name: str
    url: str
    bound_ms: float = BOUND_MS


@dataclass
class Timing:
    page: Page
    ms: list[float]
    p95_by_round: list[float]
    first: float = 0.0

    @property
    def median(self) -> float:
        return float(statistics.median(self.ms))

    @property
    def p95(self) -> float:
        return float(statistics.median(self.p95_by_round))

    @property
    def passed(self) -> bool:
        return self.p95 <= self.page.bound_ms


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    # Production settings, served over the test client: no TLS redirect, cookies over plain HTTP.
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-pages-only-not-a-secret")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
    _create_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _ensure_data() -> tuple[Any, str]:
    from django.db import connection

    from bench import pagebench_data

    found = pagebench_data.find()
    if found is not None:
        return found, "found in the database"
    print("building the paper-scale dataset (once) ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE corpus_dataset, extraction_promptversion, analysis_taxonomy, auth_user CASCADE")
    built = pagebench_data.build()
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in built.steps.items())
    return built, f"built in {built.seconds:.0f} s ({steps})"


def _client(role: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from accounts.roles import user_add_role

    user = get_user_model().objects.filter(username=f"bench-{role}").first()
    if user is None:
        user = get_user_model().objects.create_user(username=f"bench-{role}", password=None)
        user_add_role(user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def pages(*, dataset_id: int, run_id: int) -> list[Page]:
    """Every page of each role's menu, with the variants a reader uses (filters, pagination, options)."""
    from django.urls import reverse

    from accounts.roles import Role
    from annotate.models import Annotation, ReviewFlag
    from extraction.models import Extraction, PromptVersion
    from results.models import ResidualAnalysis
    from taxonomy.models import Taxonomy

    ds = reverse("dataset-page", args=[dataset_id])
    reviewed_id = (
        Annotation.objects.filter(item__sample__run_id=run_id)
        .order_by("extraction__conversation_id")
        .values_list("extraction__conversation_id", flat=True)[0]
    )
    plain_id = (
        Extraction.objects.filter(run_id=run_id)
        .exclude(conversation_id=reviewed_id)
        .values_list("conversation_id", flat=True)
        .first()
    )
    flagged = ReviewFlag.objects.order_by("annotation__extraction_id").values_list(
        "annotation__extraction_id", flat=True
    )[0]
    taxonomy = Taxonomy.objects.order_by("-pk").values_list("pk", flat=True)[0]
    residuals = ResidualAnalysis.objects.order_by("-pk").values_list("pk", flat=True)[0]
    versions = list(PromptVersion.objects.order_by("pk").values_list("pk", flat=True)[:2])
    lead = [
        ("home", reverse("home")),
        ("dataset", ds),
        ("dataset, page 100", ds + "?page=100"),
        ("dataset, last page", ds + "?page=6165"),
        ("dataset, model filter", ds + "?model=claude-3-opus-20240229"),
        ("dataset, run", ds + f"?run={run_id}"),
        ("dataset, label filter", ds + "?label=helpfulness"),
        ("dataset, rare label of a feature", ds + f"?run={run_id}&label=ai_values:precision"),
        ("dataset, subjective + reviewed", ds + "?subjective=yes&reviewed=yes"),
        ("dataset, not reviewed", ds + "?reviewed=no&page=3"),
        ("conversation, reviewed", reverse("conversation-page", args=[reviewed_id]) + f"?run={run_id}"),
        ("conversation", reverse("conversation-page", args=[plain_id])),
        ("extraction run", reverse("extraction-run-page", args=[run_id])),
        ("agreement (trust page)", reverse("validation-run-page", args=[run_id])),
        ("descriptive, all", reverse("descriptive-page")),
        ("descriptive, dataset", reverse("descriptive-page") + "?dataset=paper-scale"),
        ("descriptive, run", reverse("descriptive-page") + f"?run={run_id}"),
        ("taxonomies", reverse("taxonomy-list-page")),
        ("taxonomy", reverse("taxonomy-detail-page", args=[taxonomy])),
        ("residual analyses", reverse("residual-list-page")),
        ("residual analysis", reverse("residual-page", args=[residuals])),
        ("adjudication", reverse("adjudication-list-page")),
        ("adjudication, run", reverse("adjudication-list-page") + f"?run={run_id}"),
        ("adjudicate an output", reverse("adjudication-page", args=[flagged])),
    ]
    engineer = [
        ("home", reverse("home")),
        ("prompt sets", reverse("prompt-set-list")),
        ("prompt set", reverse("prompt-set-page", args=["paper-v1"])),
        ("prompt version", reverse("prompt-version-page", args=[versions[0]])),
        ("prompt diff", reverse("prompt-diff-page") + f"?a={versions[0]}&b={versions[1]}"),
        ("prompt compare", reverse("prompt-compare-page") + "?a=paper-v1&b=fused-v1"),
        ("candidate prompt", reverse("prompt-candidate-page", args=["paper-v1"])),
        ("new run form", reverse("prompt-run-new", args=["paper-v1"]) + "?dataset=paper-scale&limit=100"),
        ("prompt run", reverse("prompt-run-page", args=[run_id])),
        ("prompt run progress", reverse("prompt-run-progress", args=[run_id])),
        ("prompt set download", reverse("prompt-set-download", args=["paper-v1"])),
        ("agreement (trust page)", reverse("validation-run-page", args=[run_id])),
    ]
    annotator = [
        ("home", reverse("home")),
        ("taxonomies", reverse("taxonomy-list-page")),
        ("taxonomy", reverse("taxonomy-detail-page", args=[taxonomy])),
    ]
    out = []
    for role, menu in ((Role.LEAD, lead), (Role.PROMPT_ENGINEER, engineer), (Role.ANNOTATOR, annotator)):
        for name, url in menu:
            bound = AGREEMENT_BOUND_MS if name.startswith("agreement") else BOUND_MS
            out.append(Page(str(role), name, url, bound))
    return out


def _reviewer_client() -> Any:
    """An annotator of the sample (their home shows their own queue)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="reviewer1"))
    return client


def _get(client: Any, page: Page) -> float:
    started = time.perf_counter()
    response = client.get(page.url)
    if response.streaming:
        b"".join(response.streaming_content)
    elapsed = 1000 * (time.perf_counter() - started)
    if response.status_code != 200:
        raise SystemExit(f"{page.role} {page.url}: status {response.status_code}")
    return elapsed


def measure(
    targets: list[Page], *, requests: int, rounds: int, cold: bool = False, log: Callable[[str], None] = print
) -> list[Timing]:
    from django.core.cache import cache

    from accounts.roles import Role

    clients = {role: _client(role) for role in {p.role for p in targets}}
    clients[str(Role.ANNOTATOR)] = _reviewer_client()
    timings = {p: Timing(p, [], []) for p in targets}
    for r in range(rounds):
        for page in targets:
            client = clients[page.role]
            if r == 0:
                # The first request after the process started (caches empty), then warm-up requests.
                if cold:
                    cache.clear()
                timings[page].first = _get(client, page)
                for _ in range(WARMUP - 1):
                    _get(client, page)
            ms = [_get(client, page) for _ in range(requests)]
            timings[page].ms.extend(ms)
            timings[page].p95_by_round.append(float(np.percentile(ms, 95)))
            if r == rounds - 1:
                t = timings[page]
                log(
                    f"  {page.role:16} {page.name:34} first {t.first:8.1f} ms  median {t.median:7.1f} ms"
                    f"  p95 {t.p95:7.1f} ms  {'pass' if t.passed else 'FAIL'}"
                )
    return list(timings.values())


def _warm_up(run_id: int) -> float:
    """Seconds the warm-up queued at a run's end takes, from an empty cache."""
    from django.core.cache import cache

    from corpus.cache import reports_warm

    cache.clear()
    started = time.perf_counter()
    reports_warm(run_id=run_id)
    return time.perf_counter() - started


def _table(timings: list[Timing]) -> str:
    lines = [
        "| role | page | URL | first request (ms) | median (ms) | p95 (ms) | bound (ms) | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in timings:
        verdict = "pass" if t.passed else "**FAIL**"
        lines.append(
            f"| {t.page.role} | {t.page.name} | `{t.page.url}` | {t.first:.0f} | {t.median:.0f} | {t.p95:.0f} |"
            f" {t.page.bound_ms:.0f} | {verdict} |"
        )
    return "\n".join(lines)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) at the end"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="pages whose name contains this")
    parser.add_argument("--no-record", action="store_true", help="print only; leave BENCHMARKS.md alone")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--cold", action="store_true", help="empty the cache before each page's first request")
    start.add_argument("--warm-up", action="store_true", help="empty the cache, then run the warm-up (timed)")
    args = parser.parse_args(argv)
    _setup_django(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    built, how = _ensure_data()
    print(f"dataset {how}", flush=True)
    if args.warm_up:
        print(f"warm-up after a run ends: {_warm_up(built.run_id):.1f} s (in a Celery task, not in a request)")
    targets = [p for p in pages(dataset_id=built.dataset_id, run_id=built.run_id) if args.only in p.name]
    timings = measure(targets, requests=args.requests, rounds=args.rounds, cold=args.cold)
    failed = [t for t in timings if not t.passed]
    verdict = "every page within its bound" if not failed else f"{len(failed)} page(s) over their bound"
    print(verdict)
    if not args.no_record and not args.only and not (args.cold or args.warm_up):
        from bench.report import record

        body = (
            "Synthetic data (bench/pagebench_data.py, seed 2025): 308,210 conversations of 2-8 turns, six features'"
            " extractions of one run (1,849,260 rows), 1,000 conversations reviewed by 3 reviewers (18,000 reviews),"
            " two agreement snapshots, the published taxonomy (3,307 values, 4 levels), a residual analysis of AI"
            f" values x task. PostgreSQL 127.0.0.1, production settings (DEBUG off), Django's test client; "
            f"{args.requests} timed requests per page in each of {args.rounds} rounds after {WARMUP} warm-up"
            f" requests; p95 is the median of the rounds' 95th percentiles; {_load()} (other jobs share the 2 cores)."
            f"\n\n{_table(timings)}\n\nResult: {verdict} (bounds: 300 ms, the agreement page 500 ms)."
        )
        default = (args.requests, args.rounds) == (20, 3)
        options = "" if default else f" --requests {args.requests} --rounds {args.rounds}"
        record(SECTION, COMMAND + options, body)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
