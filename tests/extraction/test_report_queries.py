"""The run report's grouped queries give exactly what the per-feature queries they replaced gave.

The reference below is the previous implementation, kept as it was: a dozen scans of a run's rows (one aggregate per
feature, then the shared-out sums), seconds each at the paper's scale. The runs here mix fused and single-feature
calls, failures, retries and calls that sent no request, so that every sum and count is exercised.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, QuerySet, Sum

from extraction.costs import MICRO, SHARE_RULE, SHARED_FIELDS, shared_by_feature
from extraction.models import FUSED, Extraction, ExtractionRun, ExtractionStatus
from extraction.selectors import TOKEN_FIELDS, run_costs
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
