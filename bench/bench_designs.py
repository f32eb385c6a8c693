"""Agreement intervals under each sampling design: coverage over 2,000 simulated review studies per design.

A synthetic run of 5,000 outputs from three models (3,500 / 1,000 / 500 outputs, the small one the weakest)
with a confidence per output that predicts its errors: an output with confidence c is correct with probability
c (calibrated). The run's true agreement is the share of its correct outputs. Each study draws a review sample
with one design, "reviews" it (the verdicts are the outputs' truth) and computes the report's interval for the
run (``validation.reports``' design section, i.e. ``stats.designs.design_share``):

* simple random, n = 80: Wilson (the paper's Appendix A.4 method);
* stratified by model with at least 20 per stratum (disproportionate: the small model is oversampled),
  n = 80: stratified mean combined by the models' population shares;
* uncertainty (Poisson, expected n = 80, floor 0.1): Hájek;
* find errors (the 80 least confident), read naively as if it were a random sample: what the report refuses.

Run: ``.venv/bin/python -m bench.bench_designs`` (seeded; about a minute).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from annotate import sampling
from bench.report import record
from stats.designs import design_share
from stats.proportions import proportion_ci

STUDIES = 2000
SIZE = 80
SEED = 20261127


def population(seed: int = SEED, informative: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = {"model-a": 3500, "model-b": 1000, "model-c": 500}
    shape = {"model-a": (14.0, 1.0), "model-b": (9.0, 1.0), "model-c": (3.0, 1.0)}
    frames = []
    for model, n in sizes.items():
        conf = rng.beta(*shape[model], n)
        p_correct = conf if informative else np.full(n, conf.mean())
        frames.append(pd.DataFrame({"stratum": model, "confidence": conf, "correct": rng.random(n) < p_correct}))
    df = pd.concat(frames, ignore_index=True)
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def _study(pop: pd.DataFrame, design: str, seed: int) -> tuple[float, float, float, int]:
    """(estimate, low, high, n) of one study."""
    if design == "simple random":
        sel = sampling.select_random(pop, size=SIZE, seed=seed)
    elif design == "stratified, min 20 per model":
        sel = sampling.select_stratified(pop, size=SIZE, seed=seed, min_per_stratum=20)
    elif design == "uncertainty (Poisson, floor 0.1)":
        sel = sampling.select_uncertainty(pop, size=SIZE, seed=seed, floor=0.1)
    else:
        sel = sampling.select_find_errors(pop, size=SIZE, seed=seed)
        y = pop.loc[list(sel.unit_ids), "correct"].astype(int)
        ci = proportion_ci(int(y.sum()), len(y))
        return ci.estimate, ci.low, ci.high, len(y)
    y = pop.loc[list(sel.unit_ids), "correct"].astype(int).tolist()
    strata = list(sel.strata) if sel.stratum_sizes else None
    est = design_share(
        y, [float(p) for p in sel.inclusion_probabilities if p is not None], strata=strata,
        stratum_sizes=sel.stratum_sizes or None,
    )  # fmt: skip
    return est.estimate, est.low, est.high, est.n


DESIGNS = (
    "simple random",
    "stratified, min 20 per model",
    "uncertainty (Poisson, floor 0.1)",
    "find errors, read as random (refused by the report)",
)


def run(pop: pd.DataFrame, studies: int = STUDIES) -> dict[str, dict[str, float]]:
    truth = float(pop["correct"].mean())
    out = {}
    for d, design in enumerate(DESIGNS):
        rows = np.array([_study(pop, design, seed=1000 * d + s) for s in range(studies)])
        est, low, high, n = rows.T
        out[design] = {
            "coverage": float(np.mean((low <= truth) & (truth <= high))),
            "half_width": float(np.mean((high - low) / 2)),
            "bias": float(np.mean(est) - truth),
            "mean_n": float(np.mean(n)),
        }
    return out


def main() -> None:
    t0 = time.perf_counter()
    lines = []
    results = {}
    for informative in (True, False):
        pop = population(informative=informative)
        truth = float(pop["correct"].mean())
        res = run(pop)
        results[informative] = res
        label = "informative (calibrated) confidence" if informative else "uninformative confidence"
        lines += [
            f"### {label}: true agreement {truth:.4f}, {STUDIES:,} studies per design",
            "",
            "| design | coverage of 95% interval | mean half-width | bias of estimate | mean n |",
            "| --- | --- | --- | --- | --- |",
        ]
        for design, r in res.items():
            lines.append(
                f"| {design} | {r['coverage']:.1%} | {r['half_width']:.4f} | {r['bias']:+.4f} | {r['mean_n']:.1f} |"
            )
            print(f"{label:38s} {design:52s} cover {r['coverage']:.3f} hw {r['half_width']:.4f} bias {r['bias']:+.4f}")
        ratio = res[DESIGNS[2]]["half_width"] / res[DESIGNS[0]]["half_width"]
        lines += ["", f"Uncertainty design's half-width / simple random's at the same n: **{ratio:.2f}**", ""]
    lines.append(f"Total time {time.perf_counter() - t0:.0f} s.")
    record("Sampling designs: agreement interval coverage (bench.bench_designs)", "python -m bench.bench_designs",
           "\n".join(lines))  # fmt: skip


if __name__ == "__main__":
    main()
