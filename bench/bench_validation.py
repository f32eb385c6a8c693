"""Validation statistics against their reference implementations, in the same run.

1. Nominal Krippendorff's alpha with a 1,000-draw unit bootstrap on 10,000 units x 3 coders (10% missing):
   ``stats.alpha.krippendorff_alpha`` against ``krippendorff.alpha`` called once per resample on the
   same resampled units (the two intervals must agree to 1e-9). Acceptance: at most 5 s.
2. Set-valued alpha with MASI distance on 2,000 units x 3 coders: against NLTK's ``AnnotationTask`` with
   ``masi_distance`` (same value to 1e-9). Acceptance: at least 20 times faster.

Synthetic data, generated here with fixed seeds. Usage: .venv/bin/python -m bench.bench_validation
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Validation statistics (bench/bench_validation.py)"
COMMAND = ".venv/bin/python -m bench.bench_validation"
RUNS = 3


def nominal_data(units: int = 10_000, coders: int = 3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, units)
    data = np.where(rng.random((coders, units)) < 0.8, truth, rng.integers(0, 4, (coders, units))).astype(float)
    data[rng.random((coders, units)) < 0.1] = np.nan
    return data


def set_data(units: int = 2_000, coders: int = 3, vocab: int = 60, seed: int = 2) -> list[list[list[str] | None]]:
    """Value sets like the AI-values feature: 1-4 values per conversation, reviewers adding or dropping one."""
    rng = np.random.default_rng(seed)
    rows: list[list[list[str] | None]] = [[] for _ in range(coders)]
    for _ in range(units):
        base = set(rng.choice(vocab, size=int(rng.integers(1, 5)), replace=False).tolist())
        for c in range(coders):
            if rng.random() < 0.05:
                rows[c].append(None)
                continue
            s = set(base)
            if rng.random() < 0.3:
                s.add(int(rng.integers(vocab)))
            if rng.random() < 0.2 and len(s) > 1:
                s.discard(sorted(s)[0])
            rows[c].append([f"value-{x}" for x in sorted(s)])
    return rows


def bench_bootstrap() -> tuple[str, float]:
    import krippendorff

    from stats.alpha import krippendorff_alpha

    data = nominal_data()
    n_boot, seed = 1000, 0
    ours, result = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = krippendorff_alpha(data, level="nominal", n_boot=n_boot, seed=seed)
        ours.append(time.perf_counter() - start)
    assert result is not None
    assert result.ci is not None

    refs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        point = krippendorff.alpha(data, level_of_measurement="nominal")
        kept = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
        idx = np.random.default_rng(seed).integers(0, kept.shape[1], size=(n_boot, kept.shape[1]))
        draws = np.array([krippendorff.alpha(kept[:, i], level_of_measurement="nominal") for i in idx])
        refs.append(time.perf_counter() - start)
    ref = statistics.median(refs)
    lo, hi = np.quantile(draws, [0.025, 0.975])
    assert result.value is not None
    assert abs(result.value - point) < 1e-9, (result.value, point)
    assert abs(result.ci.low - lo) < 1e-9
    assert abs(result.ci.high - hi) < 1e-9

    t = statistics.median(ours)
    rows = (
        f"| nominal alpha + 1,000 bootstrap draws, 10,000 units x 3 coders | {t:.2f} s "
        f"(runs: {', '.join(f'{x:.2f}' for x in ours)}) | {ref:.1f} s | {ref / t:.0f}x | "
        f"alpha {result.value:.4f} [{result.ci.low:.4f}, {result.ci.high:.4f}], same to 1e-9 |\n"
    )
    return rows, t


def bench_masi() -> tuple[str, float]:
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import masi_distance

    from stats.alpha import krippendorff_alpha

    rows = set_data()
    distinct = len({frozenset(v) for r in rows for v in r if v is not None})
    ours, value = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        value = krippendorff_alpha(rows, level="masi", n_boot=0).value
        ours.append(time.perf_counter() - start)
    triples = [(f"c{c}", f"u{u}", frozenset(v)) for c, r in enumerate(rows) for u, v in enumerate(r) if v is not None]
    refs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        ref_value = AnnotationTask(data=triples, distance=masi_distance).alpha()
        refs.append(time.perf_counter() - start)
    ref = statistics.median(refs)
    assert value is not None
    assert abs(value - ref_value) < 1e-9, (value, ref_value)
    t = statistics.median(ours)
    line = (
        f"| MASI alpha (set-valued), 2,000 units x 3 coders, {distinct:,} distinct sets | {t:.3f} s "
        f"(runs: {', '.join(f'{x:.3f}' for x in ours)}) | {ref:.1f} s | {ref / t:.0f}x | "
        f"alpha {value:.6f}, NLTK {ref_value:.6f} |\n"
    )
    return line, ref / t


def main() -> None:
    sys.path.insert(0, str(ROOT))
    boot_row, boot_t = bench_bootstrap()
    masi_row, speedup = bench_masi()
    body = (
        f"| what | ours, median of {RUNS} | reference, median of {RUNS} | ratio | result |\n"
        "| --- | --- | --- | --- | --- |\n"
        + boot_row
        + masi_row
        + "\nReferences: `krippendorff.alpha` (0.9.0) once per resample of the same units; NLTK "
        "`AnnotationTask(distance=masi_distance).alpha()`. Acceptance: bootstrap at most 5 s "
        f"({'met' if boot_t <= 5 else 'NOT met'}); MASI at least 20x faster than NLTK "
        f"({'met' if speedup >= 20 else 'NOT met'}). Synthetic data generated in the benchmark (fixed seeds)."
    )
    print(body)
    from bench.report import record

    record(SECTION, COMMAND, body)


if __name__ == "__main__":
    main()
