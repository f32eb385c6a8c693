"""Coverage of the reliability intervals (Cohen's kappa, Gwet's AC1, Krippendorff's alpha) by sampling design,
prevalence and number of units.

A synthetic run of 5,000 outputs from three models (3,500 / 1,000 / 500, the small one the weakest) with a calibrated
confidence per output: an output with confidence c is correct with probability c. Its truth t_i (correct or not) is
drawn once per population. Two reviewers judge each sampled output and each reports its truth with probability q,
independently. The population values follow from T (the run's share of correct outputs) and q:
p_o = q² + (1 - q)², m = Tq + (1 - T)(1 - q) the share judged correct, kappa = (p_o - p_e)/(1 - p_e) with
p_e = m² + (1 - m)² (alpha tends to the same value: both reviewers share the marginal m), AC1 with p_e = 2m(1 - m).

Each study draws a review sample with one design (``annotate.sampling``) and computes the statistics as the agreement
report does: unweighted for a simple random sample, weighted by 1/π_i (the design weights, resampled with their
units by the bootstrap) otherwise:

* simple random, n units;
* stratified by model with at least n/4 per model (disproportionate: the small, weak model is oversampled);
* uncertainty (Poisson, expected n, floor 0.1): the least confident outputs, more often wrong, are oversampled.

The last column reads the uncertainty sample's kappa without its weights, to show why the weights are needed.
Prevalence: balanced (T about 0.5, q 0.85) and skewed (T about 0.9, q 0.88). Each cell runs 1,000 studies (Monte Carlo
standard error of a 95% coverage: 0.7 points), one BCa interval from 1,000 bootstrap draws per statistic and study;
the draws of a study are one matrix product (``stats.bootstrap``).

Run: ``.venv/bin/python -m bench.bench_reliability [STUDIES]`` (seeded; 80 minutes on 2 busy shared cores).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import pandas as pd

import stats.bootstrap
from annotate import sampling
from bench.report import record
from stats.alpha import krippendorff_alpha
from stats.kappa import cohen_kappa, gwet_ac1

STUDIES = 1000
N_BOOT = 1000
SEED = 14
UNITS = (30, 50, 80, 200)
SIZES = {"model-a": 3500, "model-b": 1000, "model-c": 500}
#: Per prevalence: (Beta shape of each model's confidence, reviewer accuracy q).
PREVALENCE: dict[str, tuple[dict[str, tuple[float, float]], float]] = {
    "balanced (T ≈ 0.5, q 0.85)": ({"model-a": (3.0, 3.0), "model-b": (2.0, 3.0), "model-c": (1.5, 3.0)}, 0.85),
    "skewed (T ≈ 0.9, q 0.88)": ({"model-a": (14.0, 1.0), "model-b": (9.0, 1.0), "model-c": (3.0, 1.0)}, 0.88),
}
DESIGNS = ("simple random", "stratified, min n/4 per model", "uncertainty (Poisson, floor 0.1)")
STATS = ("cohen_kappa", "gwet_ac1", "krippendorff_alpha")


_library_draws = stats.bootstrap.bootstrap_draws
_cache: dict[tuple[int, int, int], Any] = {}


def _shared_draws(compute: Any, n_units: int, n_boot: int, seed: int) -> Any:
    """The library's draws, with the resampling weights of a study drawn once for its three statistics (same
    seed, so the same resamples the library would draw for each): a speed-up of the benchmark only."""
    key = (n_units, n_boot, seed)
    if key not in _cache:
        _cache.clear()
        _cache[key] = _library_draws(lambda w: w, n_units, n_boot, seed)
    return np.asarray(compute(_cache[key]), dtype=np.float64)


def population(shapes: dict[str, tuple[float, float]], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for model, n in SIZES.items():
        conf = rng.beta(*shapes[model], n)
        frames.append(pd.DataFrame({"stratum": model, "confidence": conf, "correct": rng.random(n) < conf}))
    df = pd.concat(frames, ignore_index=True)
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def truths(share_correct: float, q: float) -> dict[str, float]:
    p_o = q * q + (1 - q) ** 2
    m = share_correct * q + (1 - share_correct) * (1 - q)
    p_e = m * m + (1 - m) ** 2
    kappa = (p_o - p_e) / (1 - p_e)
    ac1_e = 2 * m * (1 - m)
    return {"cohen_kappa": kappa, "krippendorff_alpha": kappa, "gwet_ac1": (p_o - ac1_e) / (1 - ac1_e)}


def _select(pop: pd.DataFrame, design: str, n: int, seed: int) -> sampling.Selection:
    if design == DESIGNS[0]:
        return sampling.select_random(pop, size=n, seed=seed)
    if design == DESIGNS[1]:
        return sampling.select_stratified(pop, size=n, seed=seed, min_per_stratum=n // 4)
    return sampling.select_uncertainty(pop, size=n, seed=seed, floor=0.1)


def _study(pop: pd.DataFrame, design: str, n: int, q: float, seed: int) -> dict[str, Any]:
    sel = _select(pop, design, n, seed)
    truth = pop.loc[list(sel.unit_ids), "correct"].to_numpy(dtype=int)
    rng = np.random.default_rng(seed + 1)
    a = np.where(rng.random(truth.size) < q, truth, 1 - truth).tolist()
    b = np.where(rng.random(truth.size) < q, truth, 1 - truth).tolist()
    pi = np.asarray(sel.inclusion_probabilities, dtype=float)
    w = None if design == DESIGNS[0] else 1.0 / pi
    boot: dict[str, Any] = {"n_boot": N_BOOT, "seed": seed, "unit_weights": w}
    out: dict[str, Any] = {
        "cohen_kappa": cohen_kappa(a, b, categories=[0, 1], **boot),
        "gwet_ac1": gwet_ac1([a, b], categories=[0, 1], **boot),
        "krippendorff_alpha": krippendorff_alpha([a, b], value_domain=[0, 1], **boot),
    }
    if design == DESIGNS[2]:
        out["unweighted_kappa"] = cohen_kappa(a, b, categories=[0, 1], n_boot=N_BOOT, seed=seed)
    return out


def cell(pop: pd.DataFrame, design: str, n: int, q: float, seed: int, studies: int) -> dict[str, Any]:
    """Per statistic: coverage of the population value, share of studies undefined, share flagged approximate."""
    truth = truths(float(pop["correct"].mean()), q)
    hits: dict[str, list[int]] = {}
    for s in range(studies):
        for name, res in _study(pop, design, n, q, seed + s).items():
            h = hits.setdefault(name, [0, 0, 0])
            if res.ci is None or not np.isfinite(res.ci.low):
                h[1] += 1
                continue
            target = truth["cohen_kappa" if name == "unweighted_kappa" else name]
            h[0] += res.ci.low <= target <= res.ci.high
            h[2] += bool(res.ci.approximate)
    return {k: {"coverage": v[0] / studies, "undefined": v[1] / studies, "approximate": v[2] / studies}
            for k, v in hits.items()}  # fmt: skip


def _fmt(r: dict[str, float]) -> str:
    text = f"{r['coverage']:.1%}"
    if r["undefined"]:
        text += f" ({r['undefined']:.1%} undefined)"
    return text


def main() -> None:
    studies = int(sys.argv[1]) if len(sys.argv) > 1 else STUDIES
    stats.bootstrap.bootstrap_draws = _shared_draws  # type: ignore[assignment]
    t0 = time.perf_counter()
    lines = [
        f"{studies:,} studies per cell, {N_BOOT:,} bootstrap draws each; coverage of the 95% BCa interval of the "
        "population value (weighted by 1/π for the stratified and uncertainty designs, as the report computes them). "
        "Flagged: share of studies whose interval the report marks approximate (fewer than 50 units, or a verdict "
        "under 10% of the ratings). Undefined: studies where the statistic had no value. Monte Carlo standard error "
        f"of a 95% coverage: {100 * (0.95 * 0.05 / studies) ** 0.5:.1f} points.",
        "",
        "| design | prevalence | units | Cohen's kappa | Gwet's AC1 | Krippendorff's alpha | flagged approximate "
        "| kappa read unweighted |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    values = {}
    for p, (label, (shapes, q)) in enumerate(PREVALENCE.items()):
        pop = population(shapes, seed=SEED + p)
        share = float(pop["correct"].mean())
        values[label] = (round(share, 3), {k: round(v, 3) for k, v in truths(share, q).items()})
        for d, design in enumerate(DESIGNS):
            for n in UNITS:
                res = cell(pop, design, n, q, seed=SEED + 10_000 * (3 * p + d) + 100 * n, studies=studies)
                cols = " | ".join(_fmt(res[k]) for k in STATS)
                flagged = f"{res['cohen_kappa']['approximate']:.0%}"
                raw = _fmt(res["unweighted_kappa"]) if "unweighted_kappa" in res else "–"
                lines.append(f"| {design} | {label} | {n} | {cols} | {flagged} | {raw} |")
                print(lines[-1], f"{time.perf_counter() - t0:.0f} s", flush=True)
    lines += [
        "",
        "Population (share of correct outputs T, values): "
        + "; ".join(f"{k}: T = {t}, {v}" for k, (t, v) in values.items())
        + ".",
        "",
        f"Total time {time.perf_counter() - t0:.0f} s.",
    ]
    record(
        "Reliability intervals: coverage by design, prevalence and units (bench.bench_reliability)",
        "python -m bench.bench_reliability",
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
