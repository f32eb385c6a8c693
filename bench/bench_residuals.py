"""Benchmark: AI values x task adjusted residuals at the paper's scale, from PostgreSQL to stored results.

Figures, in one run:
- end to end: 308,210 synthetic conversations (4.0 AI values each, 6,745 Zipf tasks; bench/synthetic.py) stored
  in PostgreSQL with COPY; then ``residual_analysis_create`` (read the labels with one COPY per feature, build
  the 3,307 x 6,745 table, residuals, exact cell tests, odds ratios, top associations, store the reported cells)
  in a fresh process each time: wall time (median of several runs) and peak memory (the process's maximum
  resident set, ``resource.getrusage``; plus the peak of Python allocations by ``tracemalloc`` in one extra run).
  Acceptance: at most 30 s and 4 GB;
- in memory, against the reference: the same long-form labels through ``pandas.crosstab`` then statsmodels'
  ``Table(...).standardized_resids``, and through ``results.residuals`` (table + the full residual matrix, the
  same output), at sizes both finish; the two matrices are checked equal. Acceptance: at least 10x faster.

Command: ``python -m bench.bench_residuals`` (``--conversations N``, ``--runs R``). The database is
``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/vitw_bench6), created and migrated when
missing, its corpus emptied first: never point it at a database you care about.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SECTION = "Residuals: AI values x task at the paper's scale"
COMMAND = ".venv/bin/python -m bench.bench_residuals"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/vitw_bench6"
PAPER_CONVERSATIONS = 308_210
SEED = 2025


def _database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)


def _setup_django(url: str, *, migrate: bool) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    if migrate:
        _create_database(url)
    import django

    django.setup()
    if migrate:
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


def _populate(n: int) -> tuple[int, float, float]:
    """Empty the benchmark database's corpus, store n synthetic conversations; (run id, generate s, write s)."""
    from django.db import connection

    from bench.synthetic import generate, write_database

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE corpus_dataset, corpus_conversation, extraction_extractionrun CASCADE")
    started = time.perf_counter()
    data = generate(n_conversations=n, seed=SEED)
    generated = time.perf_counter() - started
    summary = write_database(data, dataset=f"bench-residuals-{n}", features=("ai_values", "task"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE extraction_extraction")
        cursor.execute("ANALYZE corpus_conversation")
    return summary.run_id, generated, summary.seconds


def _measure(run_id: int, trace: bool) -> dict[str, Any]:
    """One analysis, in this process (called in a fresh subprocess)."""
    from results.requests import ResidualRequest
    from results.services import residual_analysis_create

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    analysis = residual_analysis_create(
        request=ResidualRequest(rows="ai_values", cols="task", run_id=run_id, min_conversations=5)
    )
    seconds = time.perf_counter() - started
    peak_trace = tracemalloc.get_traced_memory()[1] if trace else 0
    return {
        "seconds": seconds,
        "steps": analysis.summary["seconds"],
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tracemalloc_mb": peak_trace / 2**20,
        "shape": [analysis.summary["rows"], analysis.summary["cols"]],
        "conversations": analysis.n_conversations,
        "cells": analysis.cells.count(),
        "significant": analysis.summary["significant_cells"],
        "suppressed_cells": analysis.summary["suppressed_cells"],
    }


def _subprocess_measure(run_id: int, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_residuals", "--measure", str(run_id)] + (["--trace"] if trace else [])
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def _in_memory(n: int, runs: int) -> dict[str, Any]:
    """results.residuals against pandas.crosstab + statsmodels Table on the same labels (medians)."""
    from statsmodels.stats.contingency_tables import Table

    from bench.synthetic import generate
    from results.residuals import residual_table

    data = generate(n_conversations=n, seed=SEED)
    ai, task = data.ai_values, data.task

    def ours() -> np.ndarray:
        return residual_table(ai, task).dense_residuals()

    def reference() -> np.ndarray:
        pairs = pd.DataFrame({"conversation": ai.conversation, "value": ai.label})
        task_of = pd.Series(task.label, index=task.conversation)
        pairs["task"] = task_of.reindex(pairs["conversation"]).to_numpy()
        pairs = pairs.drop_duplicates(["conversation", "value"])
        table = pd.crosstab(pairs["value"], pairs["task"])
        return np.asarray(Table(table.to_numpy(), shift_zeros=False).standardized_resids)

    t_ours, t_ref = [], []
    a = b = np.empty((0, 0))
    for _ in range(runs):
        started = time.perf_counter()
        a = ours()
        t_ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        b = reference()
        t_ref.append(time.perf_counter() - started)
    max_diff = float(np.max(np.abs(a - b)))
    return {
        "n": n,
        "shape": f"{a.shape[0]} x {a.shape[1]}",
        "ours": statistics.median(t_ours),
        "reference": statistics.median(t_ref),
        "ratio": statistics.median(t_ref) / statistics.median(t_ours),
        "max_diff": max_diff,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=PAPER_CONVERSATIONS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10000,30000,60000", help="in-memory comparison sizes (conversations)")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None and __name__ == "__main__" else argv or [])
    url = _database_url()
    if args.measure is not None:
        _setup_django(url, migrate=False)
        print(json.dumps(_measure(args.measure, args.trace)))
        return

    _setup_django(url, migrate=True)
    run_id, t_generate, t_write = _populate(args.conversations)
    print(f"stored {args.conversations} synthetic conversations: generate {t_generate:.1f} s, COPY {t_write:.1f} s")
    measured = [_subprocess_measure(run_id, trace=False) for _ in range(args.runs)]
    traced = _subprocess_measure(run_id, trace=True)
    for m in measured:
        print(f"  end to end {m['seconds']:.1f} s, peak RSS {m['maxrss_mb']:.0f} MB, steps {m['steps']}")
    comparisons = [_in_memory(int(n), args.runs) for n in args.sizes.split(",")]
    for c in comparisons:
        print(f"  in memory n={c['n']}: ours {c['ours']:.2f} s, reference {c['reference']:.2f} s, x{c['ratio']:.1f}")

    first = measured[0]
    seconds = statistics.median(m["seconds"] for m in measured)
    rss = max(m["maxrss_mb"] for m in measured)
    steps = {k: statistics.median(m["steps"][k] for m in measured) for k in first["steps"]}
    lines = [
        f"Synthetic data (seed {SEED}): {first['conversations']:,} conversations, "
        f"{first['shape'][0]:,} AI values x {first['shape'][1]:,} tasks after the privacy threshold k = 5 "
        f"({first['suppressed_cells']:,} cells under it); stored in PostgreSQL by COPY in {t_write:.1f} s "
        f"(generated in {t_generate:.1f} s).",
        "",
        "| figure | value | bound |",
        "| --- | --- | --- |",
        f"| end to end, PostgreSQL to stored results (median of {len(measured)}) | {seconds:.1f} s | <= 30 s |",
        f"| of which: load / compute / store | {steps['load']:.1f} / {steps['compute']:.1f} / "
        f"{steps['store']:.1f} s | |",
        f"| peak resident memory of the process (max of {len(measured)}) | {rss:,.0f} MB | <= 4,096 MB |",
        f"| peak Python allocations (tracemalloc, one run) | {traced['tracemalloc_mb']:,.0f} MB | |",
        f"| stored cells (significant + top 10 per row and column) | {first['cells']:,} | |",
        f"| significant cells (no association planted; paper's family m = rows) | {first['significant']} | |",
        "",
        f"In memory, same labels, full residual matrix (median of {args.runs}):",
        "",
        "| conversations | table | results.residuals | pandas.crosstab + statsmodels Table | ratio | max diff |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {c['n']:,} | {c['shape']} | {c['ours']:.3f} s | {c['reference']:.3f} s | "
            f"{c['ratio']:.1f}x | {c['max_diff']:.1e} |"
            for c in comparisons
        ),
        "",
        "Acceptance: end to end <= 30 s and <= 4 GB; in memory >= 10x the reference.",
    ]
    body = "\n".join(lines)
    print(body)
    from bench.report import record

    record(SECTION, COMMAND, body)


if __name__ == "__main__":
    main()
