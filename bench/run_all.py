"""Run every benchmark in turn (`make bench`); each writes its figures to BENCHMARKS.md itself."""

from __future__ import annotations

import importlib
import sys

# Each module exposes main(); the list grows as benchmarks are added.
BENCHMARKS: list[str] = [
    "bench.bench_import",
    "bench.bench_validation",
    "bench.bench_gold_power",
    "bench.bench_designs",
    "bench.bench_reliability",
    "bench.bench_ppi",
    "bench.bench_taxonomy",
    "bench.bench_residuals",
    "bench.bench_caching_cost",
    "bench.bench_extraction_throughput",
    "bench.bench_labelstudio",
    "bench.bench_pages",
    "bench.bench_webhook_load",
    "bench.bench_extraction_load",
]


def main() -> int:
    only = sys.argv[1:]
    for name in BENCHMARKS:
        if only and not any(o in name for o in only):
            continue
        print(f"==> {name}", flush=True)
        importlib.import_module(name).main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
