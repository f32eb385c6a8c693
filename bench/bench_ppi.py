"""Prediction-powered prevalences on synthetic data with a planted classifier error: coverage, width, bias.

A run of 4,000 outputs; a label's true prevalence is the paper's helpfulness share (23.4%, Table 1) or a rarer one
(5%); the classifier flips the label on 10% of outputs. Each of 2,000 studies reviews a simple random sample of
200 outputs (gold labels) and computes the LLM-only share, the PPI++ share and interval (``stats.ppi``) and the
gold-only interval; ``ppi-python``'s ``ppi_mean_ci`` is run on the first 200 studies as the reference.

Run: ``.venv/bin/python -m bench.bench_ppi`` (seeded; under a minute).
"""

from __future__ import annotations

import time

import numpy as np

from bench.report import record
from stats.ppi import ppi_prevalence

STUDIES = 2000
N_ALL, N_REVIEWED, ERROR = 4000, 200, 0.10
SEED = 23


def run(prevalence: float, studies: int = STUDIES) -> dict[str, float]:
    from ppi_py import ppi_mean_ci

    rng = np.random.default_rng(SEED)
    cover = gold_cover = 0
    widths, gold_widths, bias, max_diff = [], [], [], 0.0
    for s in range(studies):
        truth = (rng.random(N_ALL) < prevalence).astype(float)
        predicted = np.where(rng.random(N_ALL) < ERROR, 1 - truth, truth)
        idx = rng.choice(N_ALL, size=N_REVIEWED, replace=False)
        share = truth.mean()
        est = ppi_prevalence(truth[idx], predicted[idx], predicted)
        cover += est.low <= share <= est.high
        gold_cover += est.gold_low <= share <= est.gold_high
        widths.append(est.high - est.low)
        gold_widths.append(est.gold_high - est.gold_low)
        bias.append(est.llm_only - share)
        if s < 200:
            lo, hi = ppi_mean_ci(truth[idx], predicted[idx], predicted, alpha=0.05)
            max_diff = max(max_diff, abs(float(np.ravel(lo)[0]) - est.low), abs(float(np.ravel(hi)[0]) - est.high))
    return {
        "coverage": cover / studies,
        "gold_coverage": gold_cover / studies,
        "width": float(np.mean(widths)),
        "gold_width": float(np.mean(gold_widths)),
        "llm_bias": float(np.mean(bias)),
        "max_diff": max_diff,
    }


def main() -> None:
    t0 = time.perf_counter()
    lines = [
        f"{STUDIES:,} studies per row; {N_ALL:,} outputs, {N_REVIEWED} reviewed at random, classifier wrong on "
        f"{ERROR:.0%} of outputs; 95% intervals.",
        "",
        "| true prevalence | PPI coverage | gold-only coverage | PPI width | gold-only width | width ratio "
        "| LLM-only bias | max difference to ppi-python |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for prevalence in (0.234, 0.05):
        r = run(prevalence)
        lines.append(
            f"| {prevalence:.1%} | {r['coverage']:.1%} | {r['gold_coverage']:.1%} | {r['width']:.4f} | "
            f"{r['gold_width']:.4f} | {r['width'] / r['gold_width']:.2f} | {r['llm_bias']:+.4f} | {r['max_diff']:.1e} |"
        )
        print(lines[-1], flush=True)
    lines += ["", f"Total time {time.perf_counter() - t0:.0f} s."]
    record("Prediction-powered prevalences (bench.bench_ppi)", "python -m bench.bench_ppi", "\n".join(lines))


if __name__ == "__main__":
    main()
