"""The trust verdict of a feature: does its measured agreement meet the lead's target? (pure: no Django)

A lead sets, per feature, a target share and half-width, such as "≥ 95% ± 5%" (project default, or for one
run). With ``k`` of ``n`` reviewed outputs judged correct and the Wilson interval [low, high] of k/n
(half-width h = (high - low)/2, the "±" of the paper's Appendix A.4), the feature is

* **below target** when even the interval's upper end is under the target share (more reviews will not lift
  it), or when the interval is as narrow as asked and the estimate is under the target;
* **trusted** when the interval is as narrow as asked (h ≤ target half-width) and the estimate meets the target;
* **not yet** otherwise: the interval is still too wide to tell, and the planner
  (``stats.proportions.additional_reviews_needed``) says how many more reviews would narrow it to the target
  half-width if agreement stays where it is.

The headline is written as in the paper: "98.8% ± 3.3%, n = 80" (79 of 80 correct, 95% Wilson).

When the reviews were drawn with unequal inclusion probabilities (an uncertainty sample, or strata allocated
disproportionately), the unweighted k/n describes the reviewed outputs, not the run: :func:`design_verdict` applies
the same rules to the design-weighted share and its interval (``stats.designs``), and says so in the headline.

:func:`reliability_notes` explains reliability figures that seem to contradict raw agreement: with nearly all
verdicts "correct", agreement expected by chance is high and chance-corrected coefficients (Krippendorff's alpha,
Fleiss' kappa) fall although reviewers almost always agree (the kappa paradox: Feinstein & Cicchetti 1990, J Clin
Epidemiol 43:543-549; Gwet's AC1 is far less sensitive to it, Gwet 2008); and with few doubly reviewed outputs every
coefficient is imprecise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from stats.proportions import additional_reviews_needed, proportion_ci, required_sample_size


class Status(StrEnum):
    TRUSTED = "trusted"
    NOT_YET = "not_yet"
    BELOW = "below"


@dataclass(frozen=True)
class Target:
    """A target share (0..1) and interval half-width, and where it was set: ``run``, ``project`` or ``default``."""

    share: float
    half_width: float
    source: str = "default"

    def __str__(self) -> str:
        return f"≥ {_pct(self.share)} ± {_pct(self.half_width)}"


#: The target when a lead has set none: the precision of the paper's validation (its Appendix A.4).
DEFAULT_TARGET = Target(share=0.95, half_width=0.05, source="default")
#: Below this many outputs reviewed by two or more people, reliability coefficients get a caution.
FEW_UNITS = 30
#: Raw agreement at or above this, with alpha under TENTATIVE_ALPHA, is the kappa paradox's signature.
HIGH_AGREEMENT = 0.85
#: Krippendorff (2004): alpha ≥ 0.800 reliable, ≥ 0.667 acceptable for tentative conclusions.
TENTATIVE_ALPHA = 0.667


@dataclass(frozen=True)
class Verdict:
    feature: str
    status: Status
    n: int
    correct: int
    estimate: float | None
    low: float | None
    high: float | None
    half_width: float | None
    target: Target
    more_reviews: int | None
    headline: str
    reason: str

    @property
    def label(self) -> str:
        if self.status == Status.TRUSTED:
            return "trusted"
        if self.status == Status.BELOW:
            return "below target"
        more = "" if self.more_reviews is None else f" ({self.more_reviews:,} more review{_s(self.more_reviews)})"
        return f"not yet{more}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def headline(*, estimate: float, half_width: float, n: int) -> str:
    """The paper's form: ``98.8% ± 3.3%, n = 80``."""
    return f"{_pct(estimate)} ± {_pct(half_width)}, n = {n:,}"


def verdict(*, feature: str, correct: int, n: int, target: Target, confidence: float = 0.95) -> Verdict:
    """The status of one feature with ``correct`` of ``n`` outputs judged correct (see the module docstring)."""
    if n == 0:
        need = required_sample_size(target.share, target.half_width, confidence=confidence)
        why = f"about {need:,} reviews give ± {_pct(target.half_width)} if agreement is near {_pct(target.share)}"
        return _make((feature, 0, 0, None, None, None, None, target), Status.NOT_YET, need, "no review yet", why)
    ci = proportion_ci(correct, n, confidence=confidence)
    head = headline(estimate=ci.estimate, half_width=ci.half_width, n=n)
    base = (feature, n, correct, ci.estimate, ci.low, ci.high, ci.half_width, target)
    return _classify(
        base, head, lambda: additional_reviews_needed(correct, n, target.half_width, confidence=confidence)
    )


def _classify(base: tuple[Any, ...], head: str, more_needed: Callable[[], int]) -> Verdict:
    """Below / trusted / not yet from an estimate and its interval (the rules of the module docstring)."""
    _, _, _, estimate, _, high, half_width, target = base
    narrow = half_width <= target.half_width + 1e-12
    if high < target.share:
        why = f"even the interval's upper end, {_pct(high)}, is under the target {_pct(target.share)}"
        return _make(base, Status.BELOW, None, head, why)
    if narrow and estimate < target.share:
        why = f"the estimate is under {_pct(target.share)}, and the interval is already as narrow as asked"
        return _make(base, Status.BELOW, None, head, why)
    if narrow:
        why = f"meets {target}: estimate at or above the target, interval within ± {_pct(target.half_width)}"
        return _make(base, Status.TRUSTED, 0, head, why)
    more = max(1, more_needed())
    why = (
        f"the interval (± {_pct(half_width)}) is wider than ± {_pct(target.half_width)}: about {more:,} more "
        f"review{_s(more)} narrow it, if agreement stays near {_pct(estimate)}"
    )
    return _make(base, Status.NOT_YET, more, head, why)


#: The design names of ``stats.designs`` whose estimate is the plain (pooled) Wilson share.
SELF_WEIGHTING = ("simple random", "unknown (inclusion probabilities not stored)")


def design_estimate_for(entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Which design entry (``validation.designs.design_entry``) of a feature the verdict reads: None when every
    sample is self-weighting (the pooled Wilson share is then the run's estimate); otherwise the probability
    sample with the most reviewed outputs, weighted by its design; a find-errors entry when there is no other."""
    if not entries or all(e.get("design") in SELF_WEIGHTING for e in entries):
        return None
    usable = [e for e in entries if e.get("estimate") is not None]
    return max(usable, key=lambda e: int(e["n"])) if usable else entries[0]


def design_verdict(*, feature: str, entry: Mapping[str, Any], target: Target, confidence: float = 0.95) -> Verdict:
    """The status of one feature from the design-weighted share of a sample drawn with unequal probabilities or
    disproportionate strata (``entry``: ``validation.designs.design_entry``): the rules of :func:`verdict` on the
    weighted share and its interval; the reviews still needed are planned at the design's effective sample size
    (n_more = n_needed · n / n_eff - n, Kish's design effect). A find-errors entry gives no verdict."""
    n = int(entry.get("n") or 0)
    correct = int((entry.get("unweighted") or {}).get("correct") or 0)
    if entry.get("estimate") is None:
        why = str(entry.get("reason") or "no probability sample: no estimate for the run")
        base = (feature, n, correct, None, None, None, None, target)
        return _make(base, Status.NOT_YET, None, "no estimate for the run", why)
    est, low, high, half = (float(entry[k]) for k in ("estimate", "low", "high", "half_width"))
    n_eff = float(entry.get("effective_n") or n) or float(n)
    head = f"{headline(estimate=est, half_width=half, n=n)} ({entry.get('design')}, weighted)"

    def more_needed() -> int:
        need = required_sample_size(min(max(est, 1e-6), 1 - 1e-6), target.half_width, confidence=confidence)
        return math.ceil(need * n / n_eff) - n

    return _classify((feature, n, correct, est, low, high, half, target), head, more_needed)


def _make(base: tuple[Any, ...], status: Status, more: int | None, head: str, why: str) -> Verdict:
    feature, n, correct, estimate, low, high, half_width, target = base
    return Verdict(feature, status, n, correct, estimate, low, high, half_width, target, more, head, why)


def _value(result: dict[str, Any] | None) -> float | None:
    return None if not result else result.get("value")


def prevalence_from_chance(chance_agreement: float | None) -> float | None:
    """The share of the commoner of two categories, from Fleiss' chance agreement p_e = p² + (1 - p)²."""
    if chance_agreement is None or not 0.5 <= chance_agreement <= 1.0:
        return None
    return (1 + math.sqrt(max(0.0, 2 * chance_agreement - 1))) / 2


def reliability_notes(entry: dict[str, Any]) -> list[str]:
    """Short explanations for one feature's reliability entry (``reports.reviewer_reliability``) where its
    coefficients and raw agreement seem to disagree, or where they rest on few outputs."""
    units = int(entry.get("outputs_with_several_reviews") or 0)
    verdicts = entry.get("verdict")
    if not verdicts:
        return [
            f"Reliability needs outputs reviewed by two or more people; {units} so far. "
            "Assign some outputs to a second reviewer to measure it."
        ]
    notes = []
    agreement = _value(verdicts.get("percent_agreement"))
    alpha = _value(verdicts.get("alpha"))
    ac1 = _value(verdicts.get("gwet_ac1"))
    prevalence = prevalence_from_chance((verdicts.get("fleiss_kappa") or {}).get("chance_agreement"))
    if agreement is not None and alpha is None:
        notes.append(
            f"Alpha is undefined: reviewers gave one verdict only across these outputs, so there is no variation to "
            f"correct for chance. Raw agreement is {_pct(agreement)}."
        )
    elif agreement is not None and alpha is not None and agreement >= HIGH_AGREEMENT and alpha < TENTATIVE_ALPHA:
        common = f" ({_pct(prevalence)} of verdicts are the same one)" if prevalence is not None else ""
        tail = f" Gwet's AC1, much less sensitive to this, is {ac1:.2f}." if ac1 is not None else ""
        notes.append(
            f"Reviewers agree on {_pct(agreement)} of outputs, yet alpha is {alpha:.2f}: nearly all verdicts fall in "
            f"one category{common}, so agreement expected by chance is already high and chance-corrected coefficients "
            f"drop (prevalence, the kappa paradox).{tail}"
        )
    if units < FEW_UNITS:
        notes.append(
            f"Only {units} output{_s(units)} had two or more reviews: the intervals are wide, read the coefficients "
            "as a first sign."
        )
    return notes
