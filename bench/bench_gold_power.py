"""The paired comparison on a gold set, on synthetic studies with a planted better prompt.

Each study draws, per conversation, which of the two prompts is correct from fixed cell probabilities (both /
only the baseline / only the candidate / neither), writes the gold labels and both prompts' outputs so that
exactly those conversations are correct, and runs the real scoring and comparison (``validation.scoring``,
``validation.gold_compare``: the rule, exact McNemar, Holm, the verdict).

1. Planted difference (one feature, so Holm leaves alpha as is): the share of studies whose verdict is
   "better" must be the exact power of the test (``stats.paired.mcnemar_power``) within ±5 points.
2. No difference (six features, the three single-label and the three value-set ones, every one with equal
   discordance): the share of studies flagging any feature must stay at or below 5% (Holm's family-wise error).

Synthetic data generated here with fixed seeds. Usage: .venv/bin/python -m bench.bench_gold_power [STUDIES]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stats.paired import mcnemar_power
from validation import scoring
from validation.gold_compare import Side, compare_on_gold

SECTION = "Paired comparison on a gold set: power and false alarms (bench/bench_gold_power.py)"
COMMAND = ".venv/bin/python -m bench.bench_gold_power"
FEATURES = ("response_type", "subjectivity", scoring.SUBJECTIVITY_LEVEL, *scoring.SET_FEATURES)
_RIGHT = {
    "response_type": (("mild_support",), None),
    "subjectivity": (("yes",), 3),
    scoring.SUBJECTIVITY_LEVEL: (("yes",), 3),
}
_WRONG = {
    "response_type": (("strong_resistance",), None),  # far off the scale: wrong even with the tolerance
    "subjectivity": (("no",), 1),
    scoring.SUBJECTIVITY_LEVEL: (("yes",), 4),
}


@dataclass(frozen=True)
class Design:
    """Cell probabilities per conversation: only the baseline correct (p10), only the candidate (p01), both."""

    n: int
    p10: float
    p01: float
    both: float

    def predicted_power(self, alpha: float) -> float:
        return mcnemar_power(self.p10, self.p01, self.n, alpha=alpha)


def _answers(feature: str, correct: bool) -> tuple[scoring.Output, scoring.Gold]:
    if feature in scoring.SET_FEATURES:
        gold = scoring.Gold(labels=("honesty", "care"))
        return scoring.Output(("honesty", "care") if correct else ("efficiency",)), gold
    labels, level = _RIGHT[feature]
    out_labels, out_level = (labels, level) if correct else _WRONG[feature]
    return scoring.Output(out_labels, out_level), scoring.Gold(labels=labels, level=level)


def _side(feature: str, correct: Sequence[bool], rule: scoring.CorrectRule) -> Side:
    items = [(i, *_answers(feature, ok)) for i, ok in enumerate(correct)]
    matcher = scoring.ValueMatcher()
    scores = scoring.item_scores(feature, [(i, o, g) for i, o, g in items], matcher=matcher, rule=rule)
    return Side(scores=scores, answers={})


def study(design: Design, features: Sequence[str], seed: int, *, alpha: float = 0.05) -> dict[str, str]:
    """One synthetic study: the verdict per feature."""
    rng = np.random.default_rng(seed)
    rule = scoring.CorrectRule()
    base: dict[str, Side] = {}
    cand: dict[str, Side] = {}
    probs = [design.both, design.p10, design.p01, 1 - design.both - design.p10 - design.p01]
    for feature in features:
        cell = rng.choice(4, size=design.n, p=probs)
        base[feature] = _side(feature, list((cell == 0) | (cell == 1)), rule)
        cand[feature] = _side(feature, list((cell == 0) | (cell == 2)), rule)
    report = compare_on_gold(base, cand, {}, alpha=alpha, n_boot=0)
    return {f: e["verdict"] for f, e in report["features"].items()}


def detection_rate(design: Design, studies: int, *, first_seed: int = 0, alpha: float = 0.05) -> float:
    """Share of studies whose single feature (response type) comes out "better" for the candidate."""
    hits = sum(
        study(design, ["response_type"], first_seed + s, alpha=alpha)["response_type"] == "better"
        for s in range(studies)
    )
    return hits / studies


def false_alarm_rate(design: Design, studies: int, *, first_seed: int = 0, alpha: float = 0.05) -> float:
    """Share of studies where any of the six features gets a verdict other than "no detectable difference"."""
    flagged = 0
    for s in range(studies):
        verdicts = study(design, FEATURES, first_seed + s, alpha=alpha)
        flagged += any(v != "no detectable difference" for v in verdicts.values())
    return flagged / studies


PLANTED = Design(n=110, p10=0.04, p01=0.14, both=0.72)
NULL = Design(n=80, p10=0.09, p01=0.09, both=0.72)


def _row(design: Design, studies: int, first_seed: int) -> str:
    predicted = design.predicted_power(0.05)
    observed = detection_rate(design, studies, first_seed=first_seed)
    se = (predicted * (1 - predicted) / studies) ** 0.5
    return (
        f"| planted: n {design.n}, only baseline {design.p10:.2f}, only candidate {design.p01:.2f} | {studies} "
        f"| {100 * predicted:.1f}% | {100 * observed:.1f}% | {100 * (observed - predicted):+.1f} | {100 * se:.1f} |"
    )


def main() -> None:
    from bench.report import record

    studies = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    start = time.perf_counter()
    # The acceptance line: the test's design and seeds (tests/validation/test_gold_power.py).
    rows = [_row(PLANTED, studies, 0)]
    # Other designs, with four times the studies so the Monte Carlo error is halved.
    for design in (Design(n=150, p10=0.05, p01=0.12, both=0.75), Design(n=40, p10=0.03, p01=0.17, both=0.7)):
        rows.append(_row(design, 4 * studies, 10_000))
    alarms = false_alarm_rate(NULL, studies, first_seed=0)
    rows.append(
        f"| no difference: n {NULL.n}, six features, discordance {NULL.p10:.2f} each way | {studies} | ≤ 5% "
        f"| {100 * alarms:.1f}% | | |"
    )
    seconds = time.perf_counter() - start
    body = "\n".join(
        [
            "Seeded synthetic studies; exact McNemar at alpha 0.05, Holm across the features of a study. Predicted: "
            "the exact power of the test (`stats.paired.mcnemar_power`); MC SE: the Monte Carlo standard error of "
            "the observed share. Acceptance: the first line within ±5 points, the last at most 5%.",
            "",
            "| design | studies | predicted | observed | difference | MC SE |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Wall time {seconds:.1f} s.",
        ]
    )
    print(body)
    record(SECTION, COMMAND, body)


if __name__ == "__main__":
    main()
