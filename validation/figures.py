"""The charts of the trust page, built from saved agreement reports and trust verdicts (pure: no Django).

* agreement per feature: interval bars coloured by trust status, each feature's target marked;
* its trend over snapshots, and across the prompt versions measured on the dataset;
* the response-type confusion matrix (machine label by reviewer label) as a heat map;
* the reviewer agreement matrix: per pair of reviewers, the share of their shared outputs given the same verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from charts import IntervalRow, Series, TrendPoint, heatmap, interval_chart, trend_chart
from charts.base import Chart
from validation.trust import Verdict


def agreement_chart(verdicts: Sequence[Verdict]) -> Chart:
    rows = [
        IntervalRow(
            label=v.feature,
            estimate=v.estimate,
            low=v.low if v.low is not None else v.estimate,
            high=v.high if v.high is not None else v.estimate,
            n=v.n,
            target=v.target.share,
            status=str(v.status),
        )
        for v in verdicts
        if v.estimate is not None
    ]
    return interval_chart(rows, slug="agreement", title="Agreement per feature (95% Wilson intervals) and targets")


def trend_over_snapshots(history: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> Chart:
    """``history``: (snapshot label, that snapshot's per-feature rows), oldest first."""
    labels = [label for label, _ in history]
    points: dict[str, list[TrendPoint]] = {}
    for i, (_, rows) in enumerate(history):
        for r in rows:
            if r.get("estimate") is None:
                continue
            points.setdefault(r["feature"], []).append(TrendPoint(i, r["estimate"], r["low"], r["high"], r["n"]))
    series = [Series(name, tuple(pts)) for name, pts in sorted(points.items())]
    return trend_chart(series, labels, slug="agreement-trend", title="Agreement per feature over snapshots")


def by_prompt_version(rows: Sequence[dict[str, Any]]) -> Chart:
    """Rows of ``selectors.agreement_by_prompt_version``: one interval bar per feature and prompt version."""
    bars = [
        IntervalRow(label=str(r["prompt_version"]), estimate=r["estimate"], low=r["low"], high=r["high"], n=r["n"])
        for r in rows
        if r.get("estimate") is not None
    ]
    return interval_chart(
        bars,
        slug="agreement-prompt-versions",
        title="Agreement per prompt version (newest snapshot of each run of this dataset)",
        label_title="prompt version",
    )


def confusion_chart(confusion: dict[str, Any] | None) -> Chart:
    confusion = confusion or {}
    labels = [str(x) for x in confusion.get("labels", [])]
    matrix = confusion.get("matrix", []) if confusion.get("n") else []
    feature = confusion.get("feature", "response_type")
    return heatmap(
        labels,
        labels,
        matrix,
        slug="confusion",
        title=f"{feature}: machine label by reviewer label ({confusion.get('n', 0)} outputs)",
        row_title="machine",
        col_title="reviewer",
        value_title="outputs",
    )


def reviewer_matrix(reliability: dict[str, Any] | None) -> Chart:
    """Pooled over features: for each pair of reviewers, observed agreement weighted by their shared outputs."""
    totals: dict[tuple[str, str], list[float]] = {}
    for entry in (reliability or {}).values():
        for pair in (entry.get("verdict") or {}).get("cohen_kappa_pairs", []):
            observed, units = pair.get("observed_agreement"), pair.get("n_units") or 0
            if observed is None or not units:
                continue
            a, b = sorted(str(x) for x in pair["annotators"])
            acc = totals.setdefault((a, b), [0.0, 0.0])
            acc[0] += observed * units
            acc[1] += units
    people = sorted({p for pair in totals for p in pair})
    index = {p: i for i, p in enumerate(people)}
    values: list[list[float | None]] = [[None] * len(people) for _ in people]
    for (a, b), (agreeing, units) in totals.items():
        values[index[a]][index[b]] = values[index[b]][index[a]] = agreeing / units
    return heatmap(
        people,
        people,
        values,
        slug="reviewer-agreement",
        title="Reviewer agreement: share of shared outputs with the same verdict (all features)",
        row_title="reviewer",
        col_title="reviewer",
        value_title="agreement",
        value_format="pct",
        vmax=1.0,
    )
