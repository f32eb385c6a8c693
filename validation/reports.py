"""Agreement reports and prompt comparisons built from a table of reviews (pure: DataFrames in, dicts out).

The input is one row per review (an annotator's judgement of one machine output), as built by
``validation.selectors.review_frame``, with the columns in :data:`REVIEW_COLUMNS`. The output is a JSON-ready
dict, stored as a snapshot by ``validation.services``.

Units and rules
---------------
* The unit of agreement is the machine output (one extraction: a conversation x feature x prompt version x
  model), as in the paper's Appendix A.4 ("correct in 98.8% of cases" out of 80 conversations).
* **Correct, with several reviewers**: an output counts as correct when a strict majority of its reviewers
  judged it correct; a tie counts as not correct (it was not accepted by more reviewers than rejected it).
  With one reviewer this is that reviewer's verdict. Per-annotator shares use that annotator's own verdicts.
* **Reviewer labels**: the corrected labels when given; otherwise the machine labels when judged correct;
  unknown (left out of label comparisons) when judged incorrect without a correction.
* Reliability among reviewers uses outputs with two or more reviews; coders are annotators, units outputs.
* **One vote per annotator per output** everywhere: when an annotator reviewed the same output twice, the latest
  review (highest annotation id) counts and the earlier ones are counted as superseded.
* **Adjudicated outputs** (``adjudicated``: extraction id -> verdict): a lead's verdict replaces the majority,
  and the report lists those outputs. Reliability among reviewers uses the reviews alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stats.alpha import krippendorff_alpha
from stats.bootstrap import DEFAULT_BOOT
from stats.coding import is_missing
from stats.errors import EmptyInputError, OutOfScaleError, StatsInputError
from stats.kappa import cohen_kappa, fleiss_kappa, gwet_ac1, percent_agreement
from stats.paired import McNemarResult, holm_correction, mcnemar_exact, paired_sample_size
from stats.proportions import additional_reviews_needed, proportion_ci
from stats.sets import set_agreement
from validation.designs import design_entry, reliability_weights

REVIEW_COLUMNS = (
    "annotation_id",
    "item_id",
    "stratum",
    "conversation_id",
    "external_id",
    "extraction_id",
    "feature",
    "prompt_version_id",
    "prompt_version",
    "model",
    "annotator",
    "verdict",
    "machine_labels",
    "corrected_labels",
)

GROUPINGS = ("feature", "prompt_version", "model", "annotator", "stratum")

# Optional columns: the sample each review came from, its design (the sample's strategy), the conversation's
# inclusion probability and its stratum's population size. Without them the report has no design section.
DESIGN_COLUMNS = ("sample_id", "design", "inclusion_probability", "stratum_size")


class ReportInputError(StatsInputError):
    """The review table cannot make a report (missing columns, no reviews)."""


def _check_frame(df: pd.DataFrame) -> None:
    missing = [c for c in REVIEW_COLUMNS if c not in df.columns]
    if missing:
        raise ReportInputError(f"review table lacks columns {missing}")
    if df.empty:
        raise EmptyInputError("no reviews with a verdict for this selection")
    bad = sorted(set(df["verdict"]) - {"correct", "incorrect"})
    if bad:
        raise OutOfScaleError(f"verdicts must be 'correct' or 'incorrect', found {bad}")


def latest_reviews(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One vote per annotator per output: the annotator's latest review (highest annotation id) of each output,
    and how many earlier reviews it superseded. Every figure of the report counts votes this way."""
    _check_frame(df)
    ordered = df.sort_values("annotation_id", kind="stable")
    kept = ordered.drop_duplicates(["annotator", "extraction_id"], keep="last").sort_index()
    return kept, len(df) - len(kept)


def _reviews(df: pd.DataFrame) -> pd.DataFrame:
    return latest_reviews(df)[0]


def _reviewer_labels(row: Any) -> list[str] | None:
    if row.corrected_labels is not None:
        return list(row.corrected_labels)
    if row.verdict == "correct":
        return list(row.machine_labels or [])
    return None


def output_verdicts(df: pd.DataFrame, *, adjudicated: Mapping[int, str] | None = None) -> pd.DataFrame:
    """One row per machine output: number of reviews, number judged correct, the majority verdict
    (``majority_correct``) and the verdict that counts (``correct``): the lead's where ``adjudicated`` has one."""
    df = _reviews(df)
    g = df.assign(is_correct=df["verdict"].eq("correct")).groupby("extraction_id", sort=True)
    extra = {c: (c, "first") for c in DESIGN_COLUMNS if c in df.columns}
    out = g.agg(
        **extra,
        feature=("feature", "first"),
        prompt_version_id=("prompt_version_id", "first"),
        prompt_version=("prompt_version", "first"),
        model=("model", "first"),
        stratum=("stratum", "first"),
        conversation_id=("conversation_id", "first"),
        external_id=("external_id", "first"),
        n_reviews=("is_correct", "size"),
        n_correct=("is_correct", "sum"),
    )
    out["majority_correct"] = out["n_correct"] * 2 > out["n_reviews"]
    decided = {int(k): v == "correct" for k, v in (adjudicated or {}).items()}
    out["adjudicated"] = [int(pk) in decided for pk in out.index]
    out["correct"] = [decided.get(int(pk), bool(m)) for pk, m in zip(out.index, out["majority_correct"], strict=True)]
    return out.reset_index()


def _share(correct: Iterable[bool], *, confidence: float, target_half_width: float | None) -> dict[str, Any]:
    values = list(correct)
    n, k = len(values), int(sum(values))
    ci = proportion_ci(k, n, confidence=confidence)
    out = {"n": n, "correct": k, **{f: getattr(ci, f) for f in ("estimate", "low", "high", "half_width")}}
    if target_half_width is not None:
        out["more_for_target"] = additional_reviews_needed(k, n, target_half_width, confidence=confidence)
    return out


def agreement_shares(
    df: pd.DataFrame,
    *,
    confidence: float = 0.95,
    target_half_width: float | None = 0.05,
    adjudicated: Mapping[int, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Share judged correct with its Wilson interval, per feature, prompt version, model, annotator, stratum.

    Outputs (majority verdicts) for every grouping except ``annotator``, which uses each annotator's verdicts.
    ``more_for_target``: further outputs to review for the interval to reach ± ``target_half_width``;
    ``adjudicated``: how many of the group's outputs carry a lead's verdict (outputs groupings only)."""
    df = _reviews(df)
    outputs = output_verdicts(df, adjudicated=adjudicated)
    by: dict[str, list[dict[str, Any]]] = {}
    for grouping in GROUPINGS:
        rows = []
        if grouping == "annotator":
            frame, column = df.assign(correct=df["verdict"].eq("correct")), "annotator"
        else:
            frame, column = outputs, grouping
        keys = ["feature", column] if grouping != "feature" else ["feature"]
        for key, part in frame.groupby(keys, sort=True, dropna=False):
            key_t = key if isinstance(key, tuple) else (key,)
            label = {k: (None if pd.isna(v) else v) for k, v in zip(keys, key_t, strict=True)}
            share = _share(part["correct"], confidence=confidence, target_half_width=target_half_width)
            if grouping != "annotator":
                share["adjudicated"] = int(part["adjudicated"].sum())
            rows.append({**label, **share})
        by[grouping] = rows
    return by


def label_agreement(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per feature: machine labels vs reviewer labels over reviews where the reviewer's labels are known:
    exact match (for categorical features this is accuracy), mean Jaccard and mean MASI similarity."""
    df = _reviews(df)
    out: dict[str, dict[str, Any]] = {}
    for feature, part in df.groupby("feature", sort=True):
        machine, reviewer = [], []
        for row in part.itertuples(index=False):
            labels = _reviewer_labels(row)
            if labels is not None:
                machine.append(list(row.machine_labels or []))
                reviewer.append(labels)
        unknown = len(part) - len(machine)
        if not machine:
            out[str(feature)] = {"n": 0, "unknown": unknown, "reason": "no review gave or confirmed labels"}
            continue
        res = set_agreement(machine, reviewer)
        out[str(feature)] = {**res.as_dict(), "unknown": unknown}
    return out


def confusion_matrix(df: pd.DataFrame, *, feature: str, labels: Sequence[str]) -> dict[str, Any]:
    """Machine label (rows) against reviewer label (columns) for a single-label feature such as response type.
    Labels outside ``labels`` get their own row/column at the end, so nothing is silently dropped."""
    df = _reviews(df)
    part = df[df["feature"] == feature]
    pairs = []
    for row in part.itertuples(index=False):
        reviewer = _reviewer_labels(row)
        machine = list(row.machine_labels or [])
        if reviewer is None or len(machine) != 1 or len(reviewer) != 1:
            continue
        pairs.append((machine[0], reviewer[0]))
    order = list(labels) + sorted({x for p in pairs for x in p} - set(labels))
    index = {lab: i for i, lab in enumerate(order)}
    matrix = np.zeros((len(order), len(order)), dtype=int)
    for m, r in pairs:
        matrix[index[m], index[r]] += 1
    return {
        "feature": feature,
        "labels": order,
        "matrix": matrix.tolist(),
        "n": len(pairs),
        "left_out": len(part) - len(pairs),
    }


def json_ready(obj: Any) -> Any:
    """Plain JSON types: numpy scalars to Python, NaN and infinities to None (PostgreSQL's jsonb rejects NaN)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def design_estimates(
    df: pd.DataFrame, *, confidence: float = 0.95, adjudicated: Mapping[int, str] | None = None
) -> list[dict[str, Any]]:
    """Per review sample and feature, the share of the run's outputs judged correct, estimated with the
    sample's design and weights (:func:`stats.designs.design_share`): Wilson for a simple random sample,
    stratified means combined by population shares, Hájek for the uncertainty design. A find-errors sample
    gets no figure for the run. Empty when the review table has no design columns."""
    df = _reviews(df)
    if any(c not in df.columns for c in DESIGN_COLUMNS):
        return []
    out = []
    for (sample_id, design), part in df.groupby(["sample_id", "design"], sort=True):
        outputs = output_verdicts(part, adjudicated=adjudicated)
        features = {
            str(feature): design_entry(rows, str(design), confidence)
            for feature, rows in outputs.groupby("feature", sort=True)
        }
        out.append({"sample_id": int(sample_id), "strategy": str(design), "features": features})
    return out


def reviewer_reliability(
    df: pd.DataFrame,
    *,
    value_features: Sequence[str],
    confidence: float = 0.95,
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Per feature, among reviewers of the same outputs: on verdicts (correct/incorrect) Krippendorff's alpha
    (nominal) with a bootstrap interval, Fleiss' kappa (equal reviews per output), Gwet's AC1, percent
    agreement and Cohen's kappa for each pair of annotators; on reviewer labels, alpha with MASI distance
    for value features and nominal alpha for single-label features. Outputs drawn with unequal probabilities
    are weighted by 1/π (``validation.designs.reliability_weights``); ``weights`` says which."""
    df = _reviews(df)
    out: dict[str, dict[str, Any]] = {}
    for feature, part in df.groupby("feature", sort=True):
        counts = part.groupby("extraction_id")["annotator"].nunique()
        multi = counts[counts >= 2].index
        shared = part[part["extraction_id"].isin(multi)]
        entry: dict[str, Any] = {"outputs_with_several_reviews": len(multi), "annotators": 0}
        if len(multi) < 2:
            entry["reason"] = "fewer than two outputs were reviewed by two or more annotators"
            out[str(feature)] = entry
            continue
        wide = shared.pivot_table(index="annotator", columns="extraction_id", values="verdict", aggfunc="first")
        entry["annotators"] = len(wide.index)
        data = [[None if pd.isna(v) else v for v in row] for row in wide.to_numpy().tolist()]
        weights = reliability_weights(shared, wide.columns)
        entry["weights"] = "equal" if weights is None else "1/π per output (unequal-probability sample)"
        boot: dict[str, Any] = {"n_boot": n_boot, "confidence": confidence, "seed": seed, "unit_weights": weights}
        by_output = None if weights is None else dict(zip(wide.columns, weights, strict=True))
        cats = ["correct", "incorrect"]
        entry["verdict"] = {
            "alpha": krippendorff_alpha(data, level="nominal", value_domain=cats, **boot).as_dict(),
            "fleiss_kappa": fleiss_kappa(data, categories=cats, **boot).as_dict(),
            "gwet_ac1": gwet_ac1(data, categories=cats, **boot).as_dict(),
            "percent_agreement": percent_agreement(data, categories=cats, **boot).as_dict(),
            "cohen_kappa_pairs": _cohen_pairs(wide, cats, boot, by_output),
        }
        labelled = shared.assign(reviewer_labels=[_reviewer_labels(r) for r in shared.itertuples(index=False)])
        labelled = labelled[labelled["reviewer_labels"].notna()]
        is_set = feature in value_features
        if is_set:
            labelled = labelled.assign(key=labelled["reviewer_labels"].map(lambda x: tuple(sorted(x))))
        else:
            labelled = labelled.assign(key=labelled["reviewer_labels"].map(lambda x: x[0] if len(x) == 1 else None))
            labelled = labelled[labelled["key"].notna()]
        if labelled.empty:
            entry["labels"] = {"value": None, "reason": "no reviewer labels known"}
        else:
            wide_l = labelled.pivot_table(index="annotator", columns="extraction_id", values="key", aggfunc="first")
            data_l = [[None if is_missing(v) else (list(v) if is_set else v) for v in row] for row in wide_l.to_numpy()]
            boot["unit_weights"] = None if by_output is None else [by_output[c] for c in wide_l.columns]
            entry["labels"] = krippendorff_alpha(data_l, level="masi" if is_set else "nominal", **boot).as_dict()
        out[str(feature)] = entry
    return out


def _cohen_pairs(
    wide: pd.DataFrame, cats: list[str], boot: dict[str, Any], by_output: dict[Any, float] | None
) -> list[dict[str, Any]]:
    pairs = []
    for a, b in itertools.combinations(wide.index, 2):
        both = wide.loc[a].notna() & wide.loc[b].notna()
        if both.sum() < 2:
            continue
        weights = None if by_output is None else [by_output[c] for c in wide.columns[both.to_numpy()]]
        res = cohen_kappa(
            list(wide.loc[a][both]), list(wide.loc[b][both]), categories=cats, **{**boot, "unit_weights": weights}
        )
        pairs.append({"annotators": [a, b], **res.as_dict()})
    return pairs


def agreement_report(
    df: pd.DataFrame,
    *,
    value_features: Sequence[str],
    response_type_feature: str,
    response_type_labels: Sequence[str],
    confidence: float = 0.95,
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
    target_half_width: float | None = 0.05,
    adjudicated: Mapping[int, str] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The whole agreement report (see the module docstring for units and rules)."""
    df, superseded = latest_reviews(df)
    step = on_step or (lambda _name: None)
    report: dict[str, Any] = {
        "params": {
            "confidence": confidence,
            "interval": "wilson",
            "n_boot": n_boot,
            "seed": seed,
            "target_half_width": target_half_width,
            "correct_rule": "strict majority of reviewers; ties count as not correct; a lead's adjudication "
            "replaces the majority",
            "vote_rule": "one vote per annotator per output: the latest review counts",
            "agreement_scope": "agreement: the reviewed outputs, unweighted; design: estimates for the run",
        },
        "counts": {
            "reviews": len(df),
            "superseded_reviews": superseded,
            "outputs": int(df["extraction_id"].nunique()),
            "conversations": int(df["conversation_id"].nunique()),
            "annotators": int(df["annotator"].nunique()),
        },
    }
    report["agreement"] = agreement_shares(
        df, confidence=confidence, target_half_width=target_half_width, adjudicated=adjudicated
    )
    report["design"] = design_estimates(df, confidence=confidence, adjudicated=adjudicated)
    report["adjudicated"] = adjudicated_outputs(df, adjudicated=adjudicated)
    step("agreement")
    report["labels"] = label_agreement(df)
    step("labels")
    report["response_type_confusion"] = confusion_matrix(df, feature=response_type_feature, labels=response_type_labels)
    step("confusion")
    report["reliability"] = reviewer_reliability(
        df, value_features=value_features, confidence=confidence, n_boot=n_boot, seed=seed
    )
    step("reliability")
    return json_ready(report)


REPORT_STEPS = 4


def adjudicated_outputs(df: pd.DataFrame, *, adjudicated: Mapping[int, str] | None) -> list[dict[str, Any]]:
    """The outputs whose verdict a lead settled: the reviewers' majority next to the lead's verdict."""
    outputs = output_verdicts(df, adjudicated=adjudicated)
    return [
        {
            **{k: getattr(r, k) for k in ("extraction_id", "conversation_id", "external_id", "feature")},
            **{k: int(getattr(r, k)) for k in ("n_reviews", "n_correct")},
            "majority": "correct" if r.majority_correct else "not correct",
            "adjudicated": "correct" if r.correct else "incorrect",
        }
        for r in outputs[outputs["adjudicated"]].itertuples(index=False)
    ]


# --------------------------------------------------------------------------------------------- comparison


def compare_outputs(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    *,
    confidence: float = 0.95,
    alpha: float = 0.05,
    power: float = 0.8,
    adjudicated: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """Paired comparison of a baseline and a candidate prompt, per feature, on the conversations both had
    reviewed (majority verdict per output, see the module docstring).

    Per feature: both accuracies with Wilson intervals, exact McNemar, the accuracy difference (candidate -
    baseline) with Newcombe's paired interval, Holm-adjusted p across features, and a verdict (see
    :func:`apply_verdicts`). ``flipped`` lists the conversations where the two prompts' outcomes differ.
    """
    a = output_verdicts(baseline, adjudicated=adjudicated)
    b = output_verdicts(candidate, adjudicated=adjudicated)
    features = sorted(set(a["feature"]) & set(b["feature"]))
    if not features:
        raise EmptyInputError("the two prompt versions share no reviewed feature")
    per_feature: dict[str, dict[str, Any]] = {}
    tests: dict[str, McNemarResult] = {}
    for feature in features:
        fa = a[a["feature"] == feature]
        fb = b[b["feature"] == feature]
        _one_output_per_conversation(feature, baseline=fa, candidate=fb)
        paired = fa.merge(fb, on="conversation_id", suffixes=("_a", "_b"))
        if paired.empty:
            per_feature[feature] = {"n": 0, "reason": "no conversation was reviewed under both prompts"}
            continue
        # candidate first, so the difference is candidate - baseline
        tests[feature] = mcnemar_exact(list(paired["correct_b"]), list(paired["correct_a"]), confidence=confidence)
        per_feature[feature] = paired_entry(
            tests[feature], paired["correct_a"], paired["correct_b"], confidence=confidence
        )
        flipped = paired[paired["correct_a"] != paired["correct_b"]]
        per_feature[feature]["flipped"] = [
            {
                "conversation_id": int(r.conversation_id),
                "external_id": r.external_id_a,
                "baseline_extraction_id": int(r.extraction_id_a),
                "candidate_extraction_id": int(r.extraction_id_b),
                "baseline_correct": bool(r.correct_a),
                "candidate_correct": bool(r.correct_b),
            }
            for r in flipped.itertuples(index=False)
        ]
    apply_verdicts(per_feature, tests, alpha=alpha, power=power)
    return json_ready(
        {
            "params": {"confidence": confidence, "alpha": alpha, "power": power, "correction": "holm"},
            "features": per_feature,
        }
    )


def _one_output_per_conversation(feature: str, **frames: pd.DataFrame) -> None:
    for name, frame in frames.items():
        dup = frame["conversation_id"][frame["conversation_id"].duplicated()]
        if not dup.empty:
            raise ReportInputError(
                f"{name} has several reviewed outputs of {feature} for conversation {int(dup.iloc[0])} "
                f"(models {sorted(frame['model'].unique())}); choose one model"
            )


def paired_entry(
    res: McNemarResult, correct_a: Iterable[bool], correct_b: Iterable[bool], *, confidence: float
) -> dict[str, Any]:
    """One feature's paired figures: both shares correct, the McNemar counts and p, and the difference
    (candidate - baseline; ``res`` was computed with the candidate first)."""
    return {
        "n": res.n,
        "baseline": _share(correct_a, confidence=confidence, target_half_width=None),
        "candidate": _share(correct_b, confidence=confidence, target_half_width=None),
        "mcnemar": {
            "only_baseline_correct": res.only_b_correct,
            "only_candidate_correct": res.only_a_correct,
            "p_value": res.p_value,
        },
        "difference": {
            "estimate": res.difference,
            "low": res.difference_low,
            "high": res.difference_high,
            "method": res.difference_method,
        },
    }


def apply_verdicts(
    per_feature: dict[str, dict[str, Any]], tests: dict[str, McNemarResult], *, alpha: float, power: float
) -> None:
    """Holm across the features' McNemar tests, then each feature's verdict (in place).

    ``better`` / ``worse`` when the Holm-adjusted p ≤ alpha, else ``no detectable difference`` with
    ``more_items``: the further paired conversations a study would need to detect the observed difference with
    the given power (Connor's McNemar planner at level alpha/m, the conservative Bonferroni level that Holm
    never falls below); None when no difference was observed at all. The tests hold the candidate first."""
    if not tests:
        return
    holm = holm_correction(tests, alpha=alpha)
    m = len(tests)
    for name, adj, reject in zip(holm.names, holm.adjusted, holm.reject, strict=True):
        entry, res = per_feature[name], tests[name]
        entry["mcnemar"]["p_holm"] = adj
        if reject:
            entry["verdict"] = "better" if res.difference > 0 else "worse"
            entry["more_items"] = 0
        else:
            entry["verdict"] = "no detectable difference"
            plan = paired_sample_size(
                res.only_a_correct / res.n, res.only_b_correct / res.n, alpha=alpha / m, power=power
            )
            entry["more_items"] = None if plan is None else max(0, plan - res.n)
