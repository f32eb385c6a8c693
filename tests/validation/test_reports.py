"""validation/reports.py on hand-made review tables (no database)."""

from __future__ import annotations

from typing import Any

import krippendorff
import numpy as np
import pandas as pd
import pytest

from stats.errors import EmptyInputError, OutOfScaleError
from stats.paired import paired_sample_size
from stats.proportions import additional_reviews_needed, proportion_ci
from validation import reports

VALUE_FEATURES = ("ai_values", "human_values", "ai_values_stated")
RESPONSE_TYPES = ("strong_support", "mild_support", "reframing", "no_values")


def _row(
    extraction_id: int,
    annotator: str,
    verdict: str,
    *,
    feature: str = "ai_values",
    labels: list[str] | None = None,
    corrected: list[str] | None = None,
    version: str = "paper-v1/ai_values@aaaa",
    model: str = "m1",
    stratum: str | None = None,
    conversation_id: int | None = None,
) -> dict[str, Any]:
    return {
        "annotation_id": 0,
        "item_id": extraction_id,
        "stratum": stratum,
        "conversation_id": conversation_id if conversation_id is not None else extraction_id,
        "external_id": f"c{conversation_id if conversation_id is not None else extraction_id}",
        "extraction_id": extraction_id,
        "feature": feature,
        "prompt_version_id": 1,
        "prompt_version": version,
        "model": model,
        "annotator": annotator,
        "verdict": verdict,
        "machine_labels": labels if labels is not None else ["helpfulness"],
        "corrected_labels": corrected,
    }


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["annotation_id"] = range(1, len(df) + 1)
    return df


def test_majority_verdict_and_ties() -> None:
    df = _frame(
        [
            _row(1, "a", "correct"),
            _row(1, "b", "correct"),
            _row(1, "c", "incorrect"),  # 2 of 3 → correct
            _row(2, "a", "correct"),
            _row(2, "b", "incorrect"),  # tie → not correct
            _row(3, "a", "incorrect"),  # single reviewer
        ]
    )
    out = reports.output_verdicts(df).set_index("extraction_id")
    assert out.loc[1, "correct"]
    assert not out.loc[2, "correct"]
    assert not out.loc[3, "correct"]
    assert list(out["n_reviews"]) == [3, 2, 1]


def test_agreement_shares_by_group() -> None:
    rows = []
    for i in range(1, 81):  # 79 of 80 outputs correct: the paper's AI-values figure
        rows.append(_row(i, "a" if i % 2 else "b", "correct" if i != 80 else "incorrect", stratum=f"s{i % 2}"))
    rows.append(_row(1, "b", "incorrect"))  # a second reviewer disagreeing on output 1: tie → not correct
    by = reports.agreement_shares(_frame(rows), target_half_width=0.02)
    feature = by["feature"][0]
    assert (feature["feature"], feature["n"], feature["correct"]) == ("ai_values", 80, 78)
    expected = proportion_ci(78, 80)
    assert feature["half_width"] == pytest.approx(expected.half_width)
    assert feature["more_for_target"] == additional_reviews_needed(78, 80, 0.02)
    annotators = {r["annotator"]: r for r in by["annotator"]}
    assert annotators["a"]["n"] == 40
    assert annotators["a"]["correct"] == 40
    assert annotators["b"]["n"] == 41
    assert annotators["b"]["correct"] == 39
    strata = {r["stratum"]: r["n"] for r in by["stratum"]}
    assert strata == {"s0": 40, "s1": 40}
    assert by["prompt_version"][0]["prompt_version"] == "paper-v1/ai_values@aaaa"
    assert by["model"][0]["model"] == "m1"


def test_label_agreement_uses_corrections_and_confirmed_labels() -> None:
    df = _frame(
        [
            _row(1, "a", "correct", labels=["honesty", "care"]),  # confirmed: exact match
            _row(2, "a", "incorrect", labels=["honesty"], corrected=["honesty", "care"]),  # subset
            _row(3, "a", "incorrect", labels=["honesty"]),  # no correction: unknown
        ]
    )
    out = reports.label_agreement(df)["ai_values"]
    assert out["n"] == 2
    assert out["unknown"] == 1
    assert out["exact_match"] == pytest.approx(0.5)
    assert out["mean_jaccard"] == pytest.approx((1 + 0.5) / 2)
    assert out["mean_masi"] == pytest.approx((1 + 0.5 * 2 / 3) / 2)


def test_response_type_confusion_matrix() -> None:
    rt = "response_type"
    df = _frame(
        [
            _row(1, "a", "correct", feature=rt, labels=["strong_support"]),
            _row(2, "a", "incorrect", feature=rt, labels=["strong_support"], corrected=["mild_support"]),
            _row(3, "a", "incorrect", feature=rt, labels=["reframing"], corrected=["odd_label"]),
            _row(4, "a", "incorrect", feature=rt, labels=["reframing"]),  # reviewer label unknown
        ]
    )
    cm = reports.confusion_matrix(df, feature=rt, labels=RESPONSE_TYPES)
    assert cm["labels"] == [*RESPONSE_TYPES, "odd_label"]
    m = np.array(cm["matrix"])
    assert m[0, 0] == 1
    assert m[0, 1] == 1
    assert m[2, 4] == 1
    assert m.sum() == 3
    assert cm["left_out"] == 1


def test_reviewer_reliability_matches_krippendorff_package() -> None:
    rng = np.random.default_rng(21)
    rows, verdicts = [], np.full((3, 40), np.nan)
    for unit in range(40):
        truth = rng.random() < 0.7
        for c, name in enumerate("abc"):
            if rng.random() < 0.15:
                continue
            v = truth if rng.random() < 0.85 else not truth
            verdicts[c, unit] = float(v)
            rows.append(_row(unit + 1, name, "correct" if v else "incorrect"))
    rel = reports.reviewer_reliability(_frame(rows), value_features=VALUE_FEATURES, n_boot=50)["ai_values"]
    keep = (~np.isnan(verdicts)).sum(axis=0) >= 2
    ref = krippendorff.alpha(verdicts[:, keep], level_of_measurement="nominal")
    assert rel["verdict"]["alpha"]["value"] == pytest.approx(ref, abs=1e-9)
    assert rel["verdict"]["alpha"]["ci"]["n_boot"] == 50
    assert rel["annotators"] == 3
    assert len(rel["verdict"]["cohen_kappa_pairs"]) == 3
    assert rel["verdict"]["gwet_ac1"]["value"] is not None


def test_reliability_needs_shared_outputs() -> None:
    df = _frame([_row(1, "a", "correct"), _row(2, "b", "correct")])
    rel = reports.reviewer_reliability(df, value_features=VALUE_FEATURES, n_boot=0)
    assert "fewer than two outputs" in rel["ai_values"]["reason"]


def test_agreement_report_sections_and_bad_input() -> None:
    df = _frame([_row(1, "a", "correct"), _row(1, "b", "correct"), _row(2, "a", "incorrect"), _row(2, "b", "correct")])
    steps: list[str] = []
    rep = reports.agreement_report(
        df,
        value_features=VALUE_FEATURES,
        response_type_feature="response_type",
        response_type_labels=RESPONSE_TYPES,
        n_boot=20,
        on_step=steps.append,
    )
    assert set(rep) == {"params", "counts", "agreement", "design", "labels", "response_type_confusion", "reliability"}
    assert rep["counts"] == {"reviews": 4, "superseded_reviews": 0, "outputs": 2, "conversations": 2, "annotators": 2}
    assert len(steps) == reports.REPORT_STEPS
    with pytest.raises(EmptyInputError, match="no reviews"):
        reports.agreement_report(
            df.iloc[0:0],
            value_features=VALUE_FEATURES,
            response_type_feature="response_type",
            response_type_labels=RESPONSE_TYPES,
        )
    with pytest.raises(OutOfScaleError, match="maybe"):
        reports.output_verdicts(_frame([_row(1, "a", "maybe")]))
    with pytest.raises(reports.ReportInputError, match="lacks columns"):
        reports.output_verdicts(df.drop(columns=["verdict"]))


def _comparison_frames(n: int, only_a: int, only_b: int, feature: str = "ai_values") -> tuple[pd.DataFrame, ...]:
    base, cand = [], []
    offset = 100_000 * VALUE_FEATURES.index(feature)
    for i in range(n):
        a_ok = i >= only_a + only_b or i < only_a
        b_ok = i >= only_a
        verdicts = ("correct" if a_ok else "incorrect", "correct" if b_ok else "incorrect")
        base.append(_row(offset + 1000 + i, "a", verdicts[0], feature=feature, conversation_id=i))
        cand.append(_row(offset + 5000 + i, "a", verdicts[1], feature=feature, conversation_id=i))
    return _frame(base), _frame(cand)


def test_compare_outputs_detects_a_better_candidate_and_lists_flips() -> None:
    base, cand = _comparison_frames(100, only_a=1, only_b=15)
    out = reports.compare_outputs(base, cand)["features"]["ai_values"]
    assert out["n"] == 100
    assert out["mcnemar"]["only_baseline_correct"] == 1
    assert out["mcnemar"]["only_candidate_correct"] == 15
    assert out["verdict"] == "better"
    assert out["difference"]["estimate"] == pytest.approx(0.14)
    assert len(out["flipped"]) == 16
    first = out["flipped"][0]
    assert first["conversation_id"] == 0
    assert first["baseline_correct"]
    assert not first["candidate_correct"]


def test_compare_outputs_no_difference_gives_items_needed_and_holm_across_features() -> None:
    b1, c1 = _comparison_frames(60, only_a=2, only_b=5, feature="ai_values")
    b2, c2 = _comparison_frames(60, only_a=9, only_b=0, feature="human_values")
    out = reports.compare_outputs(pd.concat([b1, b2]), pd.concat([c1, c2]))["features"]
    small = out["ai_values"]
    assert small["verdict"] == "no detectable difference"
    planned = paired_sample_size(5 / 60, 2 / 60, alpha=0.05 / 2)
    assert planned is not None
    assert small["more_items"] == planned - 60
    worse = out["human_values"]
    p_raw = worse["mcnemar"]["p_value"]
    assert worse["mcnemar"]["p_holm"] == pytest.approx(min(1.0, 2 * p_raw))
    assert worse["verdict"] == "worse"


def test_json_ready_removes_numpy_types_and_nan() -> None:
    out = reports.json_ready({"a": np.float64(0.5), "b": [np.int64(3), float("nan")], 4: (np.bool_(True),)})
    assert out == {"a": 0.5, "b": [3, None], "4": [True]}
    assert type(out["a"]) is float
    assert type(out["b"][0]) is int


def test_reliability_on_value_sets_matches_nltk() -> None:
    """Reviewer labels (corrections, or confirmed machine labels) compared with MASI across annotators."""
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import masi_distance

    rng = np.random.default_rng(33)
    vocab = ["care", "honesty", "autonomy", "safety", "clarity"]
    rows, triples = [], []
    for unit in range(30):
        machine = sorted(rng.choice(vocab, size=2, replace=False).tolist())
        for name in "abc":
            if rng.random() < 0.5:
                rows.append(_row(unit + 1, name, "correct", labels=machine))
                triples.append((name, unit, frozenset(machine)))
            else:
                fixed = sorted(rng.choice(vocab, size=int(rng.integers(1, 4)), replace=False).tolist())
                rows.append(_row(unit + 1, name, "incorrect", labels=machine, corrected=fixed))
                triples.append((name, unit, frozenset(fixed)))
    rel = reports.reviewer_reliability(_frame(rows), value_features=VALUE_FEATURES, n_boot=0)["ai_values"]
    expected = AnnotationTask(data=triples, distance=masi_distance).alpha()
    assert rel["labels"]["level"] == "masi"
    assert rel["labels"]["value"] == pytest.approx(expected, abs=1e-9)


def test_an_annotator_who_reviewed_an_output_twice_has_one_vote_the_latest() -> None:
    """Audit finding: two live reviews by one annotator gave two votes in the majority rule but one (the first)
    in the reliability statistics. Now the latest review counts everywhere and the report says how many were
    superseded."""
    df = _frame(
        [
            _row(1, "a", "correct"),
            _row(1, "b", "incorrect"),
            _row(1, "a", "correct"),  # a's second review of output 1: must not outvote b
            _row(2, "a", "correct"),
            _row(2, "b", "correct"),
            _row(3, "a", "correct"),  # a's first review of 3, then a changes its mind
            _row(3, "b", "incorrect"),
            _row(3, "a", "incorrect"),
        ]
    )
    out = reports.output_verdicts(df).set_index("extraction_id")
    assert list(out["n_reviews"]) == [2, 2, 2]
    assert not out.loc[1, "correct"]  # 1 of 2 is a tie, not a 2-of-3 majority
    assert not out.loc[3, "correct"]
    rel = reports.reviewer_reliability(df, value_features=VALUE_FEATURES, n_boot=0)["ai_values"]
    # With the latest votes the annotators agree on outputs 2 and 3 and disagree on 1: 2 of 3 units agree.
    assert rel["verdict"]["percent_agreement"]["value"] == pytest.approx(2 / 3)
    report = reports.agreement_report(
        df,
        value_features=VALUE_FEATURES,
        response_type_feature="ai_response_type",
        response_type_labels=RESPONSE_TYPES,
        n_boot=0,
    )
    assert report["counts"]["superseded_reviews"] == 2
    assert report["counts"]["reviews"] == 6
    annotator_a = next(r for r in report["agreement"]["annotator"] if r["annotator"] == "a")
    assert annotator_a["n"] == 3
    assert annotator_a["correct"] == 2


def _designed(rows: list[dict[str, Any]], **columns: list[Any]) -> pd.DataFrame:
    df = _frame(rows)
    for name, values in columns.items():
        df[name] = values
    return df


def test_design_section_uses_each_samples_design_and_refuses_find_errors() -> None:
    srs = [_row(i, "a", "correct" if i != 80 else "incorrect") for i in range(1, 81)]  # 79 of 80: the paper's figure
    bottom_k = [_row(100 + i, "a", "incorrect" if i % 2 else "correct") for i in range(10)]
    poisson = [_row(200 + i, "a", "correct" if i % 4 else "incorrect") for i in range(20)]
    pi_poisson = [0.9 if i % 4 == 0 else 0.1 for i in range(20)]  # errors drawn with high probability
    df = _designed(
        srs + bottom_k + poisson,
        sample_id=[1] * 80 + [2] * 10 + [3] * 20,
        design=["random"] * 80 + ["find_errors"] * 10 + ["uncertainty"] * 20,
        inclusion_probability=[80 / 4000] * 80 + [None] * 10 + pi_poisson,
        stratum_size=[None] * 110,
    )
    design = {d["sample_id"]: d for d in reports.design_estimates(df)}
    simple = design[1]["features"]["ai_values"]
    assert simple["design"] == "simple random"
    assert (round(100 * simple["estimate"], 1), round(100 * simple["half_width"], 1)) == (98.8, 3.3)
    refused = design[2]["features"]["ai_values"]
    assert refused["estimate"] is None
    assert "not a probability sample" in refused["reason"]
    weighted = design[3]["features"]["ai_values"]
    assert weighted["weights"] == "1/π per unit (Hájek)"
    # 15 correct outputs of weight 10 and 5 incorrect of weight 1/0.9: the run is mostly correct although a
    # quarter of the sample is wrong.
    assert weighted["estimate"] == pytest.approx(150 / (150 + 5 / 0.9))


def test_a_stratified_sample_with_a_lifted_stratum_is_combined_by_population_shares() -> None:
    rows = [_row(i, "a", "correct" if i % 10 else "incorrect", stratum="big") for i in range(1, 41)]
    rows += [_row(100 + i, "a", "correct" if i % 2 else "incorrect", stratum="small") for i in range(40)]
    df = _designed(
        rows,
        sample_id=[1] * 80,
        design=["stratified"] * 80,
        inclusion_probability=[40 / 900] * 40 + [40 / 100] * 40,
        stratum_size=[900] * 40 + [100] * 40,
    )
    entry = reports.design_estimates(df)[0]["features"]["ai_values"]
    assert entry["design"] == "stratified"
    assert entry["estimate"] == pytest.approx(0.9 * 36 / 40 + 0.1 * 20 / 40)
