"""Trust verdicts against the paper's Appendix A.4 figures (80 reviewed conversations, 95% intervals)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from stats.proportions import proportion_ci, required_sample_size
from validation.designs import design_entry
from validation.trust import (
    DEFAULT_TARGET,
    Status,
    Target,
    design_estimate_for,
    design_verdict,
    headline,
    prevalence_from_chance,
    reliability_notes,
    verdict,
)


@pytest.mark.parametrize(
    ("correct", "expected"),
    [(79, "98.8% ± 3.3%, n = 80"), (75, "93.8% ± 5.6%, n = 80"), (72, "90.0% ± 6.7%, n = 80")],
)
def test_headline_reproduces_the_papers_appendix_a4_figures(correct: int, expected: str) -> None:
    # "98.8% ± 3.3% ... for AI values, 93.8% ± 5.6% of cases for human values, and 90.0% ± 6.7% for response type"
    assert verdict(feature="f", correct=correct, n=80, target=DEFAULT_TARGET).headline == expected


def test_papers_ai_values_are_trusted_at_95_plus_minus_5() -> None:
    v = verdict(feature="ai_values", correct=79, n=80, target=DEFAULT_TARGET)
    assert v.status == Status.TRUSTED
    assert v.label == "trusted"


def test_papers_human_values_are_not_yet_decided_and_the_planner_says_how_many_more() -> None:
    v = verdict(feature="human_values", correct=75, n=80, target=DEFAULT_TARGET)
    assert v.status == Status.NOT_YET
    assert v.half_width == pytest.approx(0.05556, abs=1e-5)  # wider than ± 5%, upper end 97.3% above 95%
    # Independent check of the count: at p = 75/80 the Wilson half-width first reaches 5% at n = 80 + more.
    assert v.more_reviews is not None
    n_total = 80 + v.more_reviews
    assert proportion_ci(0.9375 * n_total, n_total).half_width <= 0.05
    assert proportion_ci(0.9375 * (n_total - 1), n_total - 1).half_width > 0.05
    assert v.label == f"not yet ({v.more_reviews} more reviews)"


def test_papers_response_type_is_below_95_percent_even_at_its_intervals_upper_end() -> None:
    v = verdict(feature="response_type", correct=72, n=80, target=DEFAULT_TARGET)
    assert v.high == pytest.approx(0.94845, abs=1e-5)
    assert v.status == Status.BELOW
    assert v.more_reviews is None


def test_a_precise_estimate_under_the_target_is_below_though_its_interval_reaches_it() -> None:
    v = verdict(feature="f", correct=185, n=200, target=DEFAULT_TARGET)  # 92.5%, Wilson [88.0%, 95.4%]
    assert v.high is not None
    assert v.high > 0.95
    assert v.status == Status.BELOW


def test_a_lower_target_makes_the_response_type_trusted() -> None:
    v = verdict(feature="response_type", correct=72, n=80, target=Target(share=0.85, half_width=0.07))
    assert v.status == Status.TRUSTED
    assert "≥ 85.0% ± 7.0%" in v.reason


def test_no_review_yet_plans_the_whole_sample() -> None:
    v = verdict(feature="task", correct=0, n=0, target=DEFAULT_TARGET)
    assert v.status == Status.NOT_YET
    assert v.more_reviews == 83  # the planner's published example: expected 95%, ± 5%, 95% Wilson
    assert v.headline == "no review yet"


def test_prevalence_is_read_back_from_fleiss_chance_agreement() -> None:
    assert prevalence_from_chance(0.9**2 + 0.1**2) == pytest.approx(0.9)
    assert prevalence_from_chance(None) is None


def _entry(*, units: int, agreement: float, alpha: float | None, ac1: float, chance: float) -> dict[str, object]:
    return {
        "outputs_with_several_reviews": units,
        "verdict": {
            "percent_agreement": {"value": agreement},
            "alpha": {"value": alpha},
            "gwet_ac1": {"value": ac1},
            "fleiss_kappa": {"value": alpha, "chance_agreement": chance},
        },
    }


def test_high_agreement_with_a_negative_alpha_is_explained_by_prevalence() -> None:
    # The lead's case: subjectivity at 92% agreement beside an alpha of -0.031.
    notes = reliability_notes(_entry(units=50, agreement=0.92, alpha=-0.031, ac1=0.91, chance=0.96**2 + 0.04**2))
    assert len(notes) == 1
    assert "92.0%" in notes[0]
    assert "-0.03" in notes[0]
    assert "96.0% of verdicts" in notes[0]
    assert "kappa paradox" in notes[0]
    assert "AC1" in notes[0]


def test_few_doubly_reviewed_outputs_get_a_caution_and_consistent_figures_get_none() -> None:
    few = reliability_notes(_entry(units=12, agreement=0.9, alpha=0.8, ac1=0.85, chance=0.5))
    assert few == [
        "Only 12 outputs had two or more reviews: the intervals are wide, read the coefficients as a first sign."
    ]
    assert reliability_notes(_entry(units=120, agreement=0.95, alpha=0.86, ac1=0.9, chance=0.6)) == []


def test_undefined_alpha_and_missing_reliability_are_explained() -> None:
    undefined = reliability_notes(_entry(units=40, agreement=1.0, alpha=None, ac1=1.0, chance=1.0))
    assert undefined[0].startswith("Alpha is undefined")
    missing = reliability_notes({"outputs_with_several_reviews": 1, "reason": "fewer than two outputs ..."})
    assert "two or more people; 1 so far" in missing[0]


def test_headline_formats_large_counts_with_separators() -> None:
    assert headline(estimate=0.5, half_width=0.01, n=10_000) == "50.0% ± 1.0%, n = 10,000"


def _disproportionate_stratified() -> dict[str, Any]:
    """80 reviews of a run of 1,000 outputs: 20 of the 900 from a strong model (19 correct), 60 of the 100 from a
    weak one (30 correct), the weak model oversampled. Reviewed outputs: 49 of 80 correct (61%); the run:
    0.9 · 95% + 0.1 · 50% = 90.5%."""
    outputs = pd.DataFrame(
        {
            "correct": [True] * 19 + [False] + [True] * 30 + [False] * 30,
            "stratum": ["strong"] * 20 + ["weak"] * 60,
            "inclusion_probability": [20 / 900] * 20 + [60 / 100] * 60,
            "stratum_size": [900] * 20 + [100] * 60,
        }
    )
    return design_entry(outputs, "stratified", 0.95)


def test_the_verdict_reads_the_design_weighted_share_of_a_disproportionate_stratified_sample() -> None:
    entry = _disproportionate_stratified()
    target = Target(share=0.85, half_width=0.10)
    assert entry["estimate"] == pytest.approx(0.9 * 19 / 20 + 0.1 * 30 / 60)
    chosen = design_estimate_for([entry])
    assert chosen is entry
    weighted = design_verdict(feature="f", entry=entry, target=target)
    unweighted = verdict(feature="f", correct=49, n=80, target=target)
    # Read unweighted, the oversampled weak model drags the figure to 61%: "below target". Weighted, the run is
    # at 90.5%, its interval within ± 10%: trusted.
    assert unweighted.status == Status.BELOW
    assert weighted.status == Status.TRUSTED
    assert weighted.estimate == pytest.approx(0.905)
    assert weighted.low is not None
    assert weighted.high is not None
    assert weighted.low < 0.905 < weighted.high
    assert weighted.half_width is not None
    assert weighted.half_width <= 0.10
    assert weighted.correct == 49
    assert weighted.n == 80
    assert weighted.headline.endswith("n = 80 (stratified, weighted)")
    assert weighted.headline.startswith("90.5% ± ")


def test_the_verdict_keeps_the_pooled_wilson_share_for_simple_random_samples_and_refuses_find_errors() -> None:
    srs = {"design": "simple random", "n": 80, "estimate": 0.9875}
    assert design_estimate_for([srs, {**srs, "n": 40}]) is None
    find_errors = {"strategy": "find_errors", "n": 80, "estimate": None, "reason": "not a probability sample"}
    # With a random sample beside it, the random one is read (weighted by its own design), never the bottom-k one.
    assert design_estimate_for([find_errors, srs]) is srs
    alone = design_verdict(feature="f", entry=find_errors, target=DEFAULT_TARGET)
    assert alone.status == Status.NOT_YET
    assert alone.estimate is None
    assert alone.headline == "no estimate for the run"
    assert alone.reason == "not a probability sample"


def test_more_reviews_for_a_weighted_share_are_planned_at_the_designs_effective_sample_size() -> None:
    entry = _disproportionate_stratified()
    v = design_verdict(feature="f", entry=entry, target=Target(share=0.85, half_width=0.03))
    assert v.status == Status.NOT_YET
    need = required_sample_size(entry["estimate"], 0.03)
    deff = 80 / entry["effective_n"]
    assert v.more_reviews == pytest.approx(need * deff - 80, abs=1)
