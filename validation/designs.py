"""The sampling design behind a review sample, read for the agreement report (pure: DataFrames in, dicts out).

A review sample's strategy names its design (``annotate.sampling``); every reviewed output carries its inclusion
probability π_i. This module turns one sample's outputs into the report's design entry: the share of the run's
outputs judged correct estimated with the design's weights (:func:`stats.designs.design_share`), the unweighted
share of the reviewed outputs beside it, and a summary of the weights 1/π_i (for a stratified sample, each
stratum's population share, sample size and weight). A find-errors sample (the least confident outputs) is not a
probability sample: its entry gives no estimate for the run, only the reviewed outputs' share.

:func:`reliability_weights` gives the design weights with which the reliability statistics among reviewers are
computed, so that they too describe the run and not the oversampled outputs (bench/bench_reliability.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stats.designs import design_share
from stats.proportions import proportion_ci

FIND_ERRORS = "find_errors"
STRATIFIED = "stratified"
SIMPLE_RANDOM = "random"

#: How each strategy sets its inclusion probabilities, for the page.
HOW_SET = {
    SIMPLE_RANDOM: "π = n / N for every output (simple random sample)",
    STRATIFIED: "π = n_h / N_h within each stratum h (allocation recorded with the sample)",
    "uncertainty": "π_i rises with the model's uncertainty, with a floor (Poisson sampling)",
    FIND_ERRORS: "none: the least confident outputs were taken first",
}


def _unweighted(y: Sequence[int], confidence: float) -> dict[str, Any]:
    ci = proportion_ci(sum(y), len(y), confidence=confidence)
    return {"correct": int(sum(y)), "n": len(y), "share": ci.estimate, "low": ci.low, "high": ci.high}


def _weights_summary(pi: pd.Series) -> dict[str, float]:
    w = 1.0 / pi.to_numpy(dtype=float)
    return {"min": float(w.min()), "median": float(np.median(w)), "max": float(w.max())}


def _strata_summary(outputs: pd.DataFrame, sizes: dict[str, float] | None) -> list[dict[str, Any]]:
    rows = []
    groups = outputs.assign(stratum=outputs["stratum"].fillna("")).groupby("stratum", sort=True)
    population = {
        str(h): float(sizes[str(h)]) if sizes else float((1.0 / part["inclusion_probability"]).sum())
        for h, part in groups
    }
    total = sum(population.values())
    for h, part in groups:
        n = len(part)
        rows.append(
            {
                "stratum": str(h) or "(none)",
                "population": population[str(h)],
                "population_share": population[str(h)] / total if total else None,
                "n": n,
                "sample_share": n / len(outputs),
                "weight": float((1.0 / part["inclusion_probability"]).mean()),
                "share": float(part["correct"].mean()),
            }
        )
    return rows


def design_entry(outputs: pd.DataFrame, design: str, confidence: float) -> dict[str, Any]:
    """The design entry of one sample and feature: ``outputs`` has one row per reviewed output with ``correct``,
    ``inclusion_probability``, ``stratum`` and ``stratum_size`` (see the module docstring)."""
    y = outputs["correct"].astype(int).tolist()
    base = {"strategy": design, "how_set": HOW_SET.get(design, ""), "unweighted": _unweighted(y, confidence)}
    if design == FIND_ERRORS:
        return {
            **base,
            "n": len(outputs),
            "estimate": None,
            "reason": "a find-errors sample (the least confident outputs) is not a probability sample: "
            "its share describes the reviewed outputs only, not the run",
        }
    pi = outputs["inclusion_probability"]
    if pi.isna().any():
        ci = proportion_ci(sum(y), len(y), confidence=confidence)
        return {
            **base,
            **ci.as_dict(),
            "design": "unknown (inclusion probabilities not stored)",
            "weights": "equal: treated as a simple random sample",
            "approximate": True,
        }
    strata = outputs["stratum"].fillna("").tolist() if design == STRATIFIED else None
    sizes = None
    if strata is not None and "stratum_size" in outputs and outputs["stratum_size"].notna().all():
        sizes = {str(s): float(n) for s, n in zip(strata, outputs["stratum_size"], strict=True)}
    est = design_share(y, pi.tolist(), strata=strata, stratum_sizes=sizes, confidence=confidence).as_dict()
    out = {**base, **est, "weights_summary": _weights_summary(pi)}
    if strata is not None:
        out["strata"] = _strata_summary(outputs, sizes)
    return out


def reliability_weights(reviews: pd.DataFrame, outputs: Sequence[Any]) -> list[float] | None:
    """1/π_i for each of ``outputs`` (extraction ids) when they were drawn with unequal probabilities, so the
    reliability statistics estimate the run's values; None when the sample is self-weighting, or when an output
    has no inclusion probability (a find-errors sample, or one stored before designs were recorded)."""
    if "inclusion_probability" not in reviews:
        return None
    pi = reviews.groupby("extraction_id")["inclusion_probability"].first().reindex(list(outputs)).astype(float)
    if pi.isna().any() or pi.empty or np.ptp(pi.to_numpy()) <= 1e-12 * float(pi.max()):
        return None
    return (1.0 / pi).tolist()


STRATEGY_NAMES = {
    SIMPLE_RANDOM: "simple random",
    STRATIFIED: "stratified",
    "uncertainty": "uncertainty (Poisson)",
    FIND_ERRORS: "find errors",
}
ESTIMATORS = {
    "simple random": "Wilson interval on the plain share (self-weighting)",
    "stratified": "stratified mean, strata combined by their population shares; stratified score interval",
    "unequal probabilities (Poisson)": "Hájek ratio (weights 1/π); Wilson at the effective sample size",
}


def page_sections(design: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's design section arranged for the agreement page: per sample its design, how the inclusion
    probabilities were set, the estimator, a summary of the weights (and strata) and one row per feature."""
    sections = []
    for sample in design:
        features = sorted((sample.get("features") or {}).items())
        if not features:
            continue
        first = max((e for _, e in features), key=lambda e: int(e.get("n") or 0))
        strategy = str(sample.get("strategy"))
        sections.append(
            {
                "sample_id": sample.get("sample_id"),
                "strategy": STRATEGY_NAMES.get(strategy, strategy),
                "find_errors": strategy == FIND_ERRORS,
                "how_set": first.get("how_set") or HOW_SET.get(strategy, ""),
                "design": first.get("design"),
                "estimator": ESTIMATORS.get(str(first.get("design")), first.get("method") or ""),
                "population_size": first.get("population_size"),
                "weights": first.get("weights"),
                "weights_summary": first.get("weights_summary"),
                "strata": first.get("strata") or [],
                "strata_feature": next(f for f, e in features if e is first),
                "rows": [{"feature": f, **e} for f, e in features],
            }
        )
    return sections
