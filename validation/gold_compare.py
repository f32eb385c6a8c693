"""Paired comparison of two prompt versions (or prompt sets, or models) on a gold set (pure: no Django).

Both sides are scored on the same gold conversations, feature by feature (:mod:`validation.scoring`; a fused
prompt is scored on each feature it produced). Per feature:

* per-conversation correctness by the stated rule (:class:`validation.scoring.CorrectRule`), both shares with
  Wilson intervals, the exact McNemar test on the discordant conversations, and the accuracy difference
  (candidate - baseline) with Newcombe's paired interval;
* value sets: the difference in F1 and in mean Jaccard (exact and soft), candidate - baseline, with a *paired*
  bootstrap interval: each draw resamples conversations once and scores both sides on the same resample;
* Holm's correction across the compared features and the verdict (``better`` / ``worse`` / ``no detectable
  difference`` with the conversations still needed), as in :func:`validation.reports.apply_verdicts`;
* the flipped conversations (correct under one side only) with both outputs and the gold labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stats.bootstrap import bootstrap_draws, percentile_ci
from stats.errors import EmptyInputError
from stats.paired import McNemarResult, mcnemar_exact
from validation.reports import apply_verdicts, json_ready, paired_entry
from validation.scoring import SET_FEATURES, ItemScore, set_statistics


@dataclass(frozen=True)
class Side:
    """One side of a comparison on one feature: its item scores and, per conversation, what it answered."""

    scores: Sequence[ItemScore]
    answers: Mapping[int, Any]


def metric_differences(
    a: Sequence[ItemScore], b: Sequence[ItemScore], *, confidence: float, n_boot: int, seed: int
) -> dict[str, dict[str, float]]:
    """Candidate (``b``) minus baseline (``a``) in F1 and mean Jaccard, exact and soft, on the same conversations,
    with a paired percentile bootstrap interval (conversations resampled once per draw for both sides; Efron &
    Tibshirani 1993, ch. 13)."""
    out: dict[str, dict[str, float]] = {}
    for kind in ("exact", "soft"):
        fa = set_statistics(*_counts(a, kind))
        fb = set_statistics(*_counts(b, kind))
        for name in ("f1", "jaccard"):
            ones = np.ones((1, len(a)))
            estimate = float(fb[name](ones)[0] - fa[name](ones)[0])
            key = f"{name}_{kind}"
            if n_boot <= 0:
                out[key] = {"estimate": estimate, "low": float("nan"), "high": float("nan")}
                continue

            def diff(w: np.ndarray, name: str = name, fa: Any = fa, fb: Any = fb) -> np.ndarray:
                return np.asarray(fb[name](w) - fa[name](w), dtype=np.float64)

            ci = percentile_ci(bootstrap_draws(diff, len(a), n_boot, seed), confidence, n_boot, seed)
            out[key] = {"estimate": estimate, "low": ci.low, "high": ci.high}
    return out


def _counts(scores: Sequence[ItemScore], kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.array([getattr(s, kind) for s in scores], dtype=np.float64)
    p = np.array([s.predicted for s in scores], dtype=np.float64)
    g = np.array([s.gold_size for s in scores], dtype=np.float64)
    return tp, p, g


def compare_feature(
    feature: str,
    baseline: Side,
    candidate: Side,
    gold: Mapping[int, Any],
    *,
    confidence: float,
    n_boot: int,
    seed: int,
) -> tuple[dict[str, Any], McNemarResult | None]:
    """One feature's paired figures (without the verdict, which needs every feature's test)."""
    by_a = {s.conversation_id: s for s in baseline.scores}
    by_b = {s.conversation_id: s for s in candidate.scores}
    ids = sorted(set(by_a) & set(by_b))
    if not ids:
        return {"n": 0, "reason": "no gold conversation scored under both"}, None
    a = [by_a[i] for i in ids]
    b = [by_b[i] for i in ids]
    ca = [s.correct for s in a]
    cb = [s.correct for s in b]
    res = mcnemar_exact(cb, ca, confidence=confidence)  # candidate first: difference = candidate - baseline
    entry = paired_entry(res, ca, cb, confidence=confidence)
    entry["missing"] = {"baseline": sum(s.missing for s in a), "candidate": sum(s.missing for s in b)}
    if feature in SET_FEATURES:
        entry["metric_difference"] = metric_differences(a, b, confidence=confidence, n_boot=n_boot, seed=seed)
    entry["flipped"] = [
        {
            "conversation_id": i,
            "baseline_correct": x.correct,
            "candidate_correct": y.correct,
            "baseline": baseline.answers.get(i),
            "candidate": candidate.answers.get(i),
            "gold": gold.get(i),
        }
        for i, x, y in zip(ids, a, b, strict=True)
        if x.correct != y.correct
    ]
    return entry, res


def compare_on_gold(
    baseline: Mapping[str, Side],
    candidate: Mapping[str, Side],
    gold: Mapping[str, Mapping[int, Any]],
    *,
    confidence: float = 0.95,
    alpha: float = 0.05,
    power: float = 0.8,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare on every feature both sides were scored on (see the module docstring). ``gold`` gives, per feature
    and conversation, the gold answer shown beside flipped conversations."""
    features = sorted(set(baseline) & set(candidate))
    if not features:
        raise EmptyInputError("the two sides were scored on no common feature")
    per_feature: dict[str, dict[str, Any]] = {}
    tests: dict[str, McNemarResult] = {}
    for feature in features:
        entry, res = compare_feature(
            feature,
            baseline[feature],
            candidate[feature],
            gold.get(feature, {}),
            confidence=confidence,
            n_boot=n_boot,
            seed=seed,
        )
        per_feature[feature] = entry
        if res is not None:
            tests[feature] = res
    apply_verdicts(per_feature, tests, alpha=alpha, power=power)
    return json_ready(
        {
            "params": {
                "confidence": confidence,
                "alpha": alpha,
                "power": power,
                "correction": "holm",
                "n_boot": n_boot,
                "seed": seed,
            },
            "features": per_feature,
        }
    )
