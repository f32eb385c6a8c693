"""Coverage of the reliability intervals (Cohen's kappa, Gwet's AC1, Krippendorff's alpha): BCa against percentile.

Two reviewers rate binary verdicts on n units; each unit's truth is 1 with probability π (the prevalence) and each
reviewer reports it correctly with probability q, independently. The population values follow from π and q:
p_o = q² + (1 - q)², m = πq + (1 - π)(1 - q) the share rated 1, kappa = (p_o - p_e)/(1 - p_e) with
p_e = m² + (1 - m)² (alpha tends to the same value: both raters share the marginal m), AC1 with p_e = 2m(1 - m).
Each cell runs 2,000 simulated studies; one bootstrap (1,000 draws) per study gives both intervals.

Run: ``.venv/bin/python -m bench.bench_reliability`` (seeded; about 5 minutes).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import stats.alpha
import stats.kappa
from bench.report import record
from stats import bootstrap
from stats.alpha import AlphaResult, krippendorff_alpha
from stats.kappa import CoefficientResult, cohen_kappa, gwet_ac1

STUDIES = 2000
N_BOOT = 1000
SEED = 14
UNITS = (30, 50, 100)
PREVALENCE = {"balanced (π 0.5, q 0.85)": (0.5, 0.85), "skewed (π 0.1, q 0.88)": (0.1, 0.88)}

_percentile: list[bootstrap.BootstrapCI] = []


def _both(
    compute: Callable[[Any], Any], n_units: int, n_boot: int, confidence: float, seed: int, interval: str = "bca"
) -> bootstrap.BootstrapCI | None:
    """The BCa interval, keeping the percentile interval of the same draws aside (one bootstrap for both)."""
    draws = bootstrap.bootstrap_draws(compute, n_units, n_boot, seed)
    _percentile.append(bootstrap.percentile_ci(draws, confidence, n_boot, seed))
    estimate = float(np.asarray(compute(np.ones((1, n_units))))[0])
    weights = np.ones((n_units, n_units)) - np.eye(n_units)
    return bootstrap.bca_ci(draws, estimate, np.asarray(compute(weights)), confidence, n_boot, seed)


def truths(pi: float, q: float) -> dict[str, float]:
    p_o = q * q + (1 - q) ** 2
    m = pi * q + (1 - pi) * (1 - q)
    p_e = m * m + (1 - m) ** 2
    kappa = (p_o - p_e) / (1 - p_e)
    return {
        "cohen_kappa": kappa,
        "krippendorff_alpha": kappa,
        "gwet_ac1": (p_o - 2 * m * (1 - m)) / (1 - 2 * m * (1 - m)),
    }


def cell(pi: float, q: float, n: int, seed: int, studies: int) -> dict[str, tuple[float, float, float]]:
    """Per statistic: (BCa coverage, percentile coverage, share of studies where the statistic was undefined)."""
    rng = np.random.default_rng(seed)
    truth = truths(pi, q)
    hits = {k: [0, 0, 0] for k in truth}
    for s in range(studies):
        t = (rng.random(n) < pi).astype(int)
        a = np.where(rng.random(n) < q, t, 1 - t).tolist()
        b = np.where(rng.random(n) < q, t, 1 - t).tolist()
        results: dict[str, AlphaResult | CoefficientResult] = {
            "cohen_kappa": cohen_kappa(a, b, categories=[0, 1], n_boot=N_BOOT, seed=s),
            "gwet_ac1": gwet_ac1([a, b], categories=[0, 1], n_boot=N_BOOT, seed=s),
            "krippendorff_alpha": krippendorff_alpha([a, b], value_domain=[0, 1], n_boot=N_BOOT, seed=s),
        }
        perc = iter(list(_percentile))
        _percentile.clear()
        for name, res in results.items():
            if res.ci is None:
                hits[name][2] += 1
                continue
            p = next(perc)
            hits[name][0] += res.ci.low <= truth[name] <= res.ci.high
            hits[name][1] += p.low <= truth[name] <= p.high
    return {k: (v[0] / studies, v[1] / studies, v[2] / studies) for k, v in hits.items()}


def main() -> None:
    studies = int(sys.argv[1]) if len(sys.argv) > 1 else STUDIES
    stats.kappa.bootstrap_ci = _both  # type: ignore[assignment]
    stats.alpha.bootstrap_ci = _both  # type: ignore[assignment]
    t0 = time.perf_counter()
    lines = [
        f"{studies:,} studies per cell, {N_BOOT:,} bootstrap draws each; coverage of the 95% interval, "
        "BCa (the default) / percentile (before). Undefined: studies where the statistic had no value.",
        "",
        "| prevalence | units | Cohen's kappa | Gwet's AC1 | Krippendorff's alpha |",
        "| --- | --- | --- | --- | --- |",
    ]
    for d, (label, (pi, q)) in enumerate(PREVALENCE.items()):
        for n in UNITS:
            res = cell(pi, q, n, seed=SEED + 100 * d + n, studies=studies)
            cols = " | ".join(
                f"{res[k][0]:.1%} / {res[k][1]:.1%}" + (f" ({res[k][2]:.1%} undefined)" if res[k][2] else "")
                for k in ("cohen_kappa", "gwet_ac1", "krippendorff_alpha")
            )
            lines.append(f"| {label} | {n} | {cols} |")
            print(lines[-1], flush=True)
    truth = {k: {s: round(v, 3) for s, v in truths(*pq).items()} for k, pq in PREVALENCE.items()}
    lines += ["", f"Population values: {truth}.", "", f"Total time {time.perf_counter() - t0:.0f} s."]
    record(
        "Reliability intervals: coverage by prevalence and units (bench.bench_reliability)",
        "python -m bench.bench_reliability",
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
