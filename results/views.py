"""Pages of the results app."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from accounts.roles import analyst_required
from corpus.selectors import UnknownDatasetError, dataset_id_by_name, dataset_list_counted
from extraction.models import ExtractionRun
from results.descriptive import DescriptiveTable
from results.figures import residual_figure
from results.models import ResidualAnalysis
from results.selectors import (
    DESCRIPTIVE_PAGE_TOP,
    Scope,
    descriptive_corrections_cached,
    descriptive_results_cached,
    residual_analysis_list,
    residual_cells,
    residual_strongest,
)

TOP_SHOWN = 50
# The strongest positive cells read for the chart: enough for every panel's bars, few enough to stay fast when
# thousands of cells are significant (the paper's 3,307 values x 1,000+ tasks).
CHART_CELLS = 2000
CELL_FIELDS = ("row_label", "col_label", "residual", "significant", "observed", "expected")


@analyst_required
def residual_list_page(request: HttpRequest) -> HttpResponse:
    return render(request, "results/residual_list.html", {"analyses": residual_analysis_list()[:200]})


def _cells_url(analysis: ResidualAnalysis) -> str:
    """The dataset page a cell links to (its two labels are appended), or "" when the cells cannot be listed there:
    an analysis over every dataset, or one of taxonomy clusters (level set) rather than of extracted labels."""
    if analysis.row_level is not None or analysis.col_level is not None:
        return ""
    if analysis.run is not None:
        return f"{reverse('dataset-page', args=[analysis.run.dataset_id])}?run={analysis.run.pk}"
    if analysis.dataset_id is not None:
        return f"{reverse('dataset-page', args=[analysis.dataset_id])}?"
    return ""


@analyst_required
def residual_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    analysis = get_object_or_404(residual_analysis_list(), pk=pk)
    context = {
        "analysis": analysis,
        "cells_url": _cells_url(analysis),
        "min_shown": analysis.summary.get("min_conversations", settings.ANALYSIS_MIN_CONVERSATIONS),
        "s": analysis.summary,
        "significant": residual_cells(analysis=analysis, significant=True)[:TOP_SHOWN],
        "positive": residual_strongest(analysis=analysis, limit=TOP_SHOWN),
        "negative": residual_strongest(analysis=analysis, negative=True, limit=TOP_SHOWN),
        "top_shown": TOP_SHOWN,
        "chart": residual_figure(
            list(residual_cells(analysis=analysis).filter(residual__gt=0).values(*CELL_FIELDS)[:CHART_CELLS]),
            critical=analysis.critical_value,
            row_feature=analysis.row_feature,
            col_feature=analysis.col_feature,
        ),
    }
    return render(request, "results/residual_detail.html", context)


#: Which of the paper's tables each descriptive table reproduces, for the page's headings.
PAPER_TABLES = {
    "ai_values": "Table 1",
    "categories": "Table 3",
    "value_pairs": "Table 4",
    "value_pairs_by_response": "Table 5",
    "mirroring": "Table 6",
    "mirrored_values": "Table 7",
    "values_by_model": "Table 8",
    "response_types": "Table 9",
    "response_types_by_model": "Table 9",
    "stated_values": "Table 13a",
}


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table_rows(table: DescriptiveTable) -> dict[str, Any]:
    data = table.to_dict()
    return {
        **data,
        "rows": [[_cell(row[c]) for c in data["columns"]] for row in data["rows"]],
    }


#: The corrected shares beside each table: table key -> (key in the corrections, the table's label column).
CORRECTED_TABLES = {
    "ai_values": ("ai_values", "value"),
    "categories": ("categories", "category"),
    "response_types": ("response_type", "response_type"),
}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _corrected_rows(entry: dict[str, Any] | None, shown: set[str] | None) -> dict[str, Any] | None:
    """One feature's corrected shares formatted for the page, limited to the labels the table shows (so nothing
    under the privacy threshold appears here either)."""
    if not entry:
        return None
    if "labels" not in entry:
        return {"reason": entry.get("reason", "")}
    rows = []
    for e in entry["labels"]:
        if shown is not None and e["label"] not in shown:
            continue
        rows.append(
            {
                "label": e["label"],
                "llm_only": _pct(e["llm_only"]),
                "ppi": f"{_pct(e['estimate'])} ({_pct(max(0.0, e['low']))} – {_pct(min(1.0, e['high']))})",
                "gold": f"{_pct(e['gold_only'])} ({_pct(max(0.0, e['gold_low']))} – {_pct(min(1.0, e['gold_high']))})",
                "bias": f"{100 * e['llm_only_bias']:+.1f} pts",
                "effective_n": f"{e['effective_n']:.0f} ({e['effective_n_gained']:+.0f})",
            }
        )
    return {"n_reviewed": entry["n_reviewed"], "n_outputs": entry["n_outputs"], "weights": entry["weights"],
            "rows": rows}  # fmt: skip


@analyst_required
def descriptive_page(request: HttpRequest) -> HttpResponse:
    """The paper's descriptive tables for one dataset (?dataset=, by name) or one run (?run=), under the privacy
    threshold; everything when neither is given."""
    name = request.GET.get("dataset") or None
    run = None
    error = ""
    dataset_id = None
    try:
        dataset_id = dataset_id_by_name(name)
    except UnknownDatasetError as exc:
        error = str(exc)
    if request.GET.get("run", "").isdigit():
        run = get_object_or_404(ExtractionRun.objects.select_related("dataset"), pk=int(request.GET["run"]))
    tables = {}
    subjective = None
    if not error:
        scope = Scope(dataset_id=None if run else dataset_id, run_id=run.pk if run else None)
        found = descriptive_results_cached(scope=scope, top=DESCRIPTIVE_PAGE_TOP)
        tables = {key: {"paper": PAPER_TABLES.get(key, ""), **_table_rows(t)} for key, t in found.items()}
        corrections = descriptive_corrections_cached(scope=scope) if run else {}
        for key, (feature, column) in CORRECTED_TABLES.items():
            if key in tables and corrections.get(feature):
                shown = {str(v).strip().lower() for v in found[key].table[column]}
                tables[key]["corrected"] = _corrected_rows(corrections[feature], shown)
        subjective = _corrected_rows(corrections.get("subjectivity"), None) if run else None
    context = {
        "datasets": dataset_list_counted(),
        "dataset_name": name or "",
        "run": run,
        "error": error,
        "tables": tables,
        "subjective": subjective,
        "min_conversations": settings.ANALYSIS_MIN_CONVERSATIONS,
    }
    return render(request, "results/descriptive.html", context)
