"""Prevalences corrected by human review: prediction-powered inference (PPI++) for a share.

The classifier labelled all N outputs (Ŷ on every one); reviewers gave gold labels Y on n of them (with Ŷ there too).
The LLM-only share mean(Ŷ) is biased by the classifier's errors; the gold-only share mean(Y) is unbiased but uses n
units only. PPI++ (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic 2023, *Science* 382:669-674; power tuning:
Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453) combines them:

    θ̂_λ = λ · mean_w̃(Ŷ_all) + mean_w(Y - λŶ)_reviewed,
    V̂ = λ² · sd_w̃(Ŷ_all)² / N + sd_w(Y - λŶ)² / n,

with the interval θ̂ ± z·√V̂ and λ = Cov(Y, Ŷ) / ((1 + n/N) Var(Ŷ)) clipped to [0, 1] (λ = 0 is the gold-only
estimate, λ = 1 plain PPI). Weights w (normalised to mean 1) are the reviewed units' inverse inclusion
probabilities, 1/π_i, for a sample drawn with unequal probabilities (active inference: Zrnic & Candès 2024, ICML);
w = 1 for a simple random sample. The formulas, λ and the weighting are those of the ``ppi-python`` package
(``ppi_mean_ci``, ``classical_mean_ci``), reimplemented here in NumPy so the application does not depend on it;
tests/stats/test_ppi.py checks both agree to 1e-12. The effective sample size says how many gold labels alone would
give the same variance: n_eff = n · V̂_gold / V̂_PPI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stats.errors import EmptyInputError, LengthMismatchError, OutOfScaleError, confidence_z
from stats.result import Result

__all__ = ["PrevalenceEstimate", "ppi_prevalence"]


@dataclass(frozen=True)
class PrevalenceEstimate(Result):
    llm_only: float
    estimate: float
    low: float
    high: float
    gold_only: float
    gold_low: float
    gold_high: float
    lam: float
    n_reviewed: int
    n_all: int
    effective_n: float
    confidence: float
    weighted: bool
    method: str = "PPI++ (power-tuned prediction-powered inference), normal interval"


def _vector(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise OutOfScaleError(f"{what}[{bad[0]}] is {arr[bad[0]]!r}; expected a finite 0/1 label")
    return arr


def _weights(values: npt.ArrayLike | None, n: int) -> npt.NDArray[np.float64]:
    if values is None:
        return np.ones(n)
    w = _vector(values, "weights")
    if w.size != n:
        raise LengthMismatchError(f"{n} reviewed units but {w.size} weights")
    if (w <= 0).any():
        raise OutOfScaleError(f"weights must be positive, got {w.min()!r}")
    return w / w.sum() * n


def _power_tuning(
    y: npt.NDArray[np.float64],
    yhat: npt.NDArray[np.float64],
    yhat_all: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    w_all: npt.NDArray[np.float64],
) -> float:
    """λ minimising the PPI variance (PPI++ for a mean), as ppi-python computes it, clipped to [0, 1]."""
    n, big_n = y.size, yhat_all.size
    theta = float((w_all * yhat_all).mean() + (w * (y - yhat)).mean())
    grads, grads_hat = w * (y - theta), w * (yhat - theta)
    cov = 2.0 * float(((grads - grads.mean()) * (grads_hat - grads_hat.mean())).sum()) / n
    var_hat = float(np.var(np.concatenate([grads_hat, w_all * (yhat_all - theta)]), ddof=1))
    if var_hat <= 0:
        return 0.0
    return float(np.clip(cov / (2 * (1 + n / big_n) * var_hat), 0.0, 1.0))


def ppi_prevalence(
    gold: npt.ArrayLike,
    predicted_reviewed: npt.ArrayLike,
    predicted_all: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    confidence: float = 0.95,
    lam: float | None = None,
) -> PrevalenceEstimate:
    """The share of outputs with the label, corrected by the reviews (formulas in the module docstring).

    ``gold``: the reviewers' 0/1 for the reviewed outputs; ``predicted_reviewed``: the classifier's 0/1 on the
    same outputs; ``predicted_all``: the classifier's 0/1 on every output of the run; ``weights``: 1/π_i of the
    reviewed outputs for an unequal-probability sample; ``lam`` fixes λ (1: plain PPI, 0: gold only).
    """
    y, yhat, yhat_all = _vector(gold, "gold"), _vector(predicted_reviewed, "predicted"), _vector(predicted_all, "all")
    if y.size == 0 or yhat_all.size == 0:
        raise EmptyInputError("no reviewed outputs or no predictions to correct (no reviews?)")
    if y.size != yhat.size:
        raise LengthMismatchError(f"{y.size} gold labels but {yhat.size} predictions for the reviewed outputs")
    z = confidence_z(confidence)
    n, big_n = y.size, yhat_all.size
    w, w_all = _weights(weights, n), np.ones(big_n)
    tuned = _power_tuning(y, yhat, yhat_all, w, w_all) if lam is None else float(lam)
    estimate = float((w_all * tuned * yhat_all).mean() + (w * (y - tuned * yhat)).mean())
    var = float((w_all * tuned * yhat_all).std() ** 2 / big_n + (w * (y - tuned * yhat)).std() ** 2 / n)
    gold_mean, gold_var = float((w * y).mean()), float((w * y).std() ** 2 / n)
    half, gold_half = z * np.sqrt(var), z * np.sqrt(gold_var)
    return PrevalenceEstimate(
        llm_only=float(yhat_all.mean()),
        estimate=estimate,
        low=estimate - half,
        high=estimate + half,
        gold_only=gold_mean,
        gold_low=gold_mean - gold_half,
        gold_high=gold_mean + gold_half,
        lam=tuned,
        n_reviewed=n,
        n_all=big_n,
        effective_n=float(n * gold_var / var) if var > 0 else float(n),
        confidence=confidence,
        weighted=weights is not None,
    )
