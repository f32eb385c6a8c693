"""The run report's grouped queries give exactly what the queries they replaced gave.

The references below are the previous implementations, kept as they were: for the costs a dozen scans of a run's rows
(one aggregate per feature, then the shared-out sums), for the progress a scan with the filter's conversations in an
``OR``-ed subquery and another for the counts per feature; seconds each at the paper's scale. The runs here mix fused
and single-feature calls, gated and ungated runs, failures, retries and calls that sent no request.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Q, QuerySet, Sum

from extraction.costs import MICRO, SHARE_RULE, SHARED_FIELDS, shared_by_feature
from extraction.features import GATED_FEATURES, SUBJECTIVITY_YES, FeatureName
from extraction.models import FUSED, Extraction, ExtractionRun, ExtractionStatus
from extraction.selectors import (
    TOKEN_FIELDS,
    RunProgress,
    run_conversations,
    run_costs,
    run_feature_counts,
    run_items,
    run_progress,
)
from extraction.services import run_execute
from tests.extraction.conftest import RecordingsWriter
from tests.extraction.test_services import run_small

pytestmark = pytest.mark.django_db


def _reference_cost_figures(rows: QuerySet[Extraction]) -> dict[str, Any]:
    sums = rows.aggregate(
        **{f: Sum(f) for f in TOKEN_FIELDS},
        cost_usd=Sum("cost_usd"),
        latency_ms=Sum("latency_ms"),
        requests=Sum("attempts"),
        conversations=Count("conversation_id", distinct=True),
        extractions=Count("pk"),
    )
    figures = {k: (v or 0) for k, v in sums.items()}
    cost = Decimal(figures["cost_usd"] or 0).quantize(Decimal("0.000001"))
    figures["cost_usd"] = cost
    conversations = figures["conversations"]
    figures["cost_usd_per_1000_conversations"] = (
        (cost * 1000 / conversations).quantize(Decimal("0.0001")) if conversations else Decimal(0)
    )
    calls = rows.filter(attempts__gt=0).count()
    figures["mean_latency_ms"] = round(figures["latency_ms"] / calls) if calls else 0
    return figures


def _reference_costs_shared(rows: QuerySet[Extraction]) -> dict[str, dict[str, Any]]:
    fused = rows.filter(prompt_version__feature=FUSED)
    data = fused.values_list("conversation_id", "prompt_version_id", "model", "feature", *SHARED_FIELDS)
    shared = shared_by_feature(
        ((conv, version, model), feature, dict(zip(SHARED_FIELDS, figs, strict=True)))
        for conv, version, model, feature, *figs in data.iterator()
    )
    single = (
        rows.exclude(prompt_version__feature=FUSED)
        .values_list("feature")
        .annotate(**{f"sum_{f}": Sum(f) for f in SHARED_FIELDS})
        .values_list("feature", *(f"sum_{f}" for f in SHARED_FIELDS))
    )
    for feature, *sums in single:
        sums_of = shared.setdefault(feature, {f: Decimal(0) for f in SHARED_FIELDS})
        for f, total in zip(SHARED_FIELDS, sums, strict=True):
            sums_of[f] = (sums_of[f] + Decimal(total or 0)).quantize(MICRO if f == "cost_usd" else Decimal("0.1"))
    conversations = dict(
        rows.values("feature").annotate(n=Count("conversation_id", distinct=True)).values_list("feature", "n")
    )
    out: dict[str, dict[str, Any]] = {}
    for feature in sorted(shared):
        entry: dict[str, Any] = dict(shared[feature])
        n = conversations.get(feature, 0)
        entry["conversations"] = n
        entry["cost_usd_per_1000_conversations"] = (
            (entry["cost_usd"] * 1000 / n).quantize(Decimal("0.0001")) if n else Decimal(0)
        )
        out[feature] = entry
    return out


def reference_run_costs(run: ExtractionRun) -> dict[str, Any]:
    rows = Extraction.objects.filter(run=run)
    figures = _reference_cost_figures(rows)
    figures["by_feature"] = {
        feature: _reference_cost_figures(rows.filter(feature=feature))
        for feature in rows.values_list("feature", flat=True).distinct().order_by("feature")
    }
    figures["by_feature_shared"] = _reference_costs_shared(rows)
    figures["share_rule"] = SHARE_RULE
    return figures


def _roughen(run: ExtractionRun) -> None:
    """Uneven figures: a failure that sent no request, retries, odd costs and latencies."""
    for i, row in enumerate(Extraction.objects.filter(run=run).order_by("pk")):
        row.attempts = i % 3
        row.latency_ms = 100 + 37 * i
        row.cost_usd = Decimal("0.000123") * (i + 1)
        row.input_tokens += i
        if i % 5 == 4:
            row.status = ExtractionStatus.FAILED
        row.save()


@pytest.mark.parametrize("prompt_set", ["paper-v1", "fused-v1"])
def test_run_costs_equal_the_per_feature_queries(
    prompt_set: str, small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings(prompt_set)
    run = run_small(prompt_set=prompt_set)
    run_execute(run=run)
    _roughen(run)
    costs = run_costs(run=run)
    assert costs == reference_run_costs(run)
    assert costs["extractions"] == Extraction.objects.filter(run=run).count() > 4
    assert costs["cost_usd"] > 0


def test_run_costs_of_a_run_with_fused_and_single_calls_of_one_feature(
    small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    """Rows of one feature from both kinds of call: its conversations are counted across both, not added up."""
    write_recordings("fused-v1")
    fused = run_small(prompt_set="fused-v1")
    run_execute(run=fused)
    write_recordings("paper-v1")
    single = run_small(prompt_set="paper-v1")
    run_execute(run=single)
    Extraction.objects.filter(run=single).update(run=fused)
    _roughen(fused)
    costs = run_costs(run=fused)
    assert costs == reference_run_costs(fused)
    assert costs["by_feature"]["subjectivity"]["conversations"] == 4  # each conversation once, from both calls
    assert costs["by_feature"]["subjectivity"]["extractions"] == 8


def reference_run_progress(run: ExtractionRun) -> RunProgress:
    features = list(run.options.get("features", []))
    n_conv = run_conversations(run=run).count()
    items = run_items(run=run)
    gated = not run.options.get("all_conversations", False) and FeatureName.SUBJECTIVITY in features
    subjective_rows = items.filter(
        feature=FeatureName.SUBJECTIVITY, status=ExtractionStatus.OK, labels__0=SUBJECTIVITY_YES
    )
    n_pass = subjective_rows.count()
    if gated:
        per_conv = [f for f in features if f not in GATED_FEATURES]
        per_pass = [f for f in features if f in GATED_FEATURES]
        total = n_conv * len(per_conv) + n_pass * len(per_pass)
        counted = items.filter(
            Q(feature__in=per_conv)
            | Q(feature__in=per_pass, conversation_id__in=subjective_rows.values("conversation_id"))
        )
    else:
        total = n_conv * len(features)
        counted = items
    by_status = dict(counted.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return RunProgress(
        conversations=n_conv,
        subjective=n_pass,
        total=total,
        done=by_status.get(ExtractionStatus.OK, 0) + by_status.get(ExtractionStatus.PARSE_ERROR, 0),
        failed=by_status.get(ExtractionStatus.FAILED, 0),
        parse_errors=by_status.get(ExtractionStatus.PARSE_ERROR, 0),
    )


def reference_feature_counts(run: ExtractionRun) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, Any]] = {}
    grouped = run_items(run=run).values_list("feature", "status").annotate(n=Count("pk"))
    for feature, status, n in grouped.values_list("feature", "status", "n"):
        row = counts.setdefault(feature, {"feature": feature, **{s.value: 0 for s in ExtractionStatus}, "total": 0})
        row[status] = n
        row["total"] += n
    return [counts[f] for f in sorted(counts)]


@pytest.mark.parametrize(
    ("prompt_set", "options"),
    [("paper-v1", {}), ("paper-v1", {"all_conversations": True}), ("fused-v1", {})],
    ids=["gated", "every-conversation", "fused"],
)
def test_run_progress_and_feature_counts_equal_the_queries_they_replaced(
    prompt_set: str, options: dict[str, Any], small_dataset: Any, write_recordings: RecordingsWriter
) -> None:
    write_recordings(prompt_set)
    run = run_small(prompt_set=prompt_set, **options)
    run_execute(run=run)
    _roughen(run)  # failures among the filter's answers and the gated features
    # A gated feature's row on a conversation the filter did not pass (as a rerun with --all leaves): in the
    # feature's counts, and in the progress of an ungated run only.
    passed = Extraction.objects.filter(run=run, feature="subjectivity", labels__0=SUBJECTIVITY_YES)
    turned_down = Extraction.objects.filter(run=run, feature="subjectivity").exclude(pk__in=passed.values("pk"))
    row = Extraction.objects.filter(run=run, feature="ai_values").order_by("pk").first()
    assert row is not None
    assert turned_down.exists()
    stray = turned_down.exclude(
        conversation_id__in=Extraction.objects.filter(run=run, feature="ai_values").values("conversation_id")
    ).first()
    assert stray is not None or options or prompt_set == "fused-v1"  # the gated run has one to add it to
    if stray is not None:
        row.pk = None
        row.conversation_id = stray.conversation_id
        row.save()
    progress = run_progress(run=run)
    assert progress == reference_run_progress(run)
    assert run_feature_counts(run=run) == reference_feature_counts(run)
    assert progress.done + progress.failed > 0
    assert progress.total >= progress.done + progress.failed
