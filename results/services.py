"""Writes of the results app: a residual analysis computed and stored; the descriptive tables warmed in the cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import connection, transaction

from corpus.models import Dataset
from extraction.models import ExtractionRun, Feature
from extraction.selectors import WRITING
from results.descriptive import NONE_LABEL
from results.labels import AnalysisInputError, LabelSet, restrict
from results.models import ResidualAnalysis, ResidualCell
from results.requests import ResidualRequest
from results.residuals import ResidualReport, ResidualTable, residual_table
from results.selectors import (
    Scope,
    descriptive_corrections_cached,
    descriptive_results_cached,
    feature_labels,
    subjective_conversations,
)
from taxonomy.models import Taxonomy
from taxonomy.selectors import taxonomy_newest, taxonomy_value_ancestors
from taxonomy.values import TaxonomyError


class AnalysisRequestError(ValueError):
    """A residual analysis asked for something that does not exist or does not fit; the message says what."""


def _taxonomy_for(*, feature: str, taxonomy_id: int | None) -> Taxonomy:
    """The given taxonomy, or the newest one of ``feature``."""
    if taxonomy_id is not None:
        taxonomy = Taxonomy.objects.filter(pk=taxonomy_id).first()
        if taxonomy is None:
            raise AnalysisRequestError(f"taxonomy {taxonomy_id} does not exist")
        return taxonomy
    newest = taxonomy_newest(feature=feature)
    if newest is None:
        raise AnalysisRequestError(
            f"--level needs a taxonomy of {feature!r}; none exists (build or import one, or pass its id)"
        )
    return newest


def _ancestors(
    *, feature: str, level: int, taxonomy_id: int | None, values: Any
) -> tuple[Taxonomy, dict[str, str], int]:
    """The taxonomy used, value -> ancestor name at ``level`` for ``values``, and how many have none."""
    taxonomy = _taxonomy_for(feature=feature, taxonomy_id=taxonomy_id)
    try:
        resolved, missing = taxonomy_value_ancestors(taxonomy=taxonomy, level=level, values=values)
    except TaxonomyError as exc:
        raise AnalysisRequestError(str(exc)) from exc
    return taxonomy, resolved, missing


def residual_analysis_check(*, request: ResidualRequest) -> None:
    """Raise ``AnalysisRequestError`` naming the first thing in the request that does not exist or fit."""
    for side, feature, _, _ in request.sides():
        if feature not in Feature.values:
            raise AnalysisRequestError(f"{side}: unknown feature {feature!r}; choose from {', '.join(Feature.values)}")
    if request.dataset_id is not None and not Dataset.objects.filter(pk=request.dataset_id).exists():
        raise AnalysisRequestError(f"dataset {request.dataset_id} does not exist")
    if request.run_id is not None and not ExtractionRun.objects.filter(pk=request.run_id).exists():
        raise AnalysisRequestError(f"extraction run {request.run_id} does not exist")
    for _, feature, level, taxonomy_id in request.sides():
        if level is not None:
            _ancestors(feature=feature, level=level, taxonomy_id=taxonomy_id, values=())


@dataclass
class _Inputs:
    """The labels of both sides as the table takes them, with the taxonomies used and what to note."""

    labels: dict[str, LabelSet]
    mappings: dict[str, dict[str, str] | None] = field(default_factory=lambda: {"rows": None, "cols": None})
    taxonomies: dict[str, Taxonomy | None] = field(default_factory=lambda: {"rows": None, "cols": None})
    notes: list[str] = field(default_factory=list)


def _load(request: ResidualRequest, scope: Scope) -> _Inputs:
    """Labels of both features in scope (subjective conversations only when asked), grouped by taxonomy level."""
    subjective = subjective_conversations(scope=scope) if request.subjective_only else None
    inputs = _Inputs(
        labels={side: restrict(feature_labels(feature=f, scope=scope), subjective) for side, f, _, _ in request.sides()}
    )
    if request.subjective_only and subjective is None:
        inputs.notes.append("no subjectivity labels in scope: all conversations were used")
    for side, feature, level, taxonomy_id in request.sides():
        if level is None:
            continue
        values = pd.unique(inputs.labels[side].label)
        taxonomy, resolved, missing = _ancestors(feature=feature, level=level, taxonomy_id=taxonomy_id, values=values)
        if missing:
            inputs.notes.append(f"{missing} {feature} label(s) not in taxonomy {taxonomy} were left out")
        inputs.mappings[side], inputs.taxonomies[side] = resolved, taxonomy
    return inputs


def _table(request: ResidualRequest, inputs: _Inputs, k: int) -> tuple[ResidualTable, ResidualReport]:
    try:
        table = residual_table(
            inputs.labels["rows"],
            inputs.labels["cols"],
            row_mapping=inputs.mappings["rows"],
            col_mapping=inputs.mappings["cols"],
            unmapped="drop",
            min_conversations=k,
            alpha=request.alpha,
            comparisons=request.comparisons,
            empty_row_label=NONE_LABEL if request.include_none and request.rows == Feature.HUMAN_VALUES else None,
            empty_col_label=NONE_LABEL if request.include_none and request.cols == Feature.HUMAN_VALUES else None,
        )
        return table, table.report(top_k=request.top_k)
    except AnalysisInputError as exc:
        raise AnalysisRequestError(str(exc)) from exc


def residual_analysis_create(
    *,
    request: ResidualRequest,
    user: Any = None,
    request_key: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> ResidualAnalysis:
    """Compute the ``rows`` x ``cols`` adjusted residuals (results.residuals) and store the reported cells.

    Reads the newest parsed extraction of each feature per conversation in the run or dataset; keeps
    only subjective conversations when asked and when subjectivity was extracted; maps values to their
    taxonomy ancestors at ``row_level`` / ``col_level``. Cells under the privacy threshold
    (``min_conversations``, default ANALYSIS_MIN_CONVERSATIONS) are never stored. Nothing is written
    when anything fails.
    """
    if request_key is not None:
        done = ResidualAnalysis.objects.filter(request_key=request_key).first()
        if done is not None:
            return done
    step = on_progress or (lambda _msg: None)
    k = settings.ANALYSIS_MIN_CONVERSATIONS if request.min_conversations is None else request.min_conversations
    residual_analysis_check(request=request)
    scope = Scope(dataset_id=request.dataset_id, run_id=request.run_id)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    step(f"loading {request.rows} and {request.cols} labels ({scope.describe()})")
    inputs = _load(request, scope)
    timings["load"] = time.perf_counter() - started

    step("building the table")
    t0 = time.perf_counter()
    table, report = _table(request, inputs, k)
    timings["compute"] = time.perf_counter() - t0

    step(f"storing {len(report.cells)} cells")
    t0 = time.perf_counter()
    summary = report.summary()
    summary["notes"] = [*summary["notes"], *inputs.notes]  # type: ignore[misc]
    params = {
        "min_conversations": k,
        "alpha": request.alpha,
        "comparisons": request.comparisons,
        "top_k": request.top_k,
        "subjective_only": request.subjective_only,
        "include_none": request.include_none,
    }
    with transaction.atomic():
        analysis = ResidualAnalysis.objects.create(
            row_feature=request.rows,
            col_feature=request.cols,
            row_level=request.row_level,
            col_level=request.col_level,
            row_taxonomy=inputs.taxonomies["rows"],
            col_taxonomy=inputs.taxonomies["cols"],
            dataset_id=request.dataset_id,
            run_id=request.run_id,
            params=params,
            summary=summary,
            n_conversations=table.n_conversations,
            critical_value=table.critical_value,
            request_key=request_key,
            created_by=user,
        )
        _store_cells(analysis.pk, report.cells)
        timings["store"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - started
        summary["seconds"] = {key: round(v, 3) for key, v in timings.items()}
        ResidualAnalysis.objects.filter(pk=analysis.pk).update(summary=summary)
    analysis.summary = summary
    return analysis


# One list for the stored cell, the API and the CLI output, so none of them can drop or reorder a column.
CELL_COLUMNS = (
    "row_label",
    "col_label",
    "observed",
    "expected",
    "residual",
    "p_value",
    "p_exact",
    "significant",
    "odds_ratio",
    "or_low",
    "or_high",
    "or_corrected",
)


def _store_cells(analysis_id: int, cells: pd.DataFrame) -> None:
    frame = cells.rename(columns={"row": "row_label", "col": "col_label"})[list(CELL_COLUMNS)].copy()
    frame["row_label"] = frame["row_label"].astype(str)
    frame["col_label"] = frame["col_label"].astype(str)
    if connection.vendor == "postgresql":
        # Binary COPY: no float formatting on the way (text CSV spent seconds there at the paper's scale).
        types = ["bigint", "varchar", "varchar", "integer", *["float8"] * 4, "boolean", *["float8"] * 3, "boolean"]
        columns = [frame[c].to_numpy() for c in CELL_COLUMNS]
        table = ResidualCell._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY {table} (analysis_id, {', '.join(CELL_COLUMNS)}) FROM STDIN WITH (FORMAT binary)"
            ) as copy,
        ):
            copy.set_types(types)
            for row in zip(*(c.tolist() for c in columns), strict=True):
                copy.write_row((analysis_id, *row))
        return
    ResidualCell.objects.bulk_create(
        (ResidualCell(analysis_id=analysis_id, **record) for record in frame.to_dict(orient="records")),
        batch_size=2000,
    )


#: The runs whose descriptive tables are warmed (each with its dataset), besides all datasets together.
DESCRIPTIVE_WARM_RUNS = 3


def descriptive_reports_warm(*, run_id: int | None = None) -> list[str]:
    """Compute, or find in the cache, the descriptive page's tables for every dataset together, and for the newest
    finished runs (and run ``run_id``) and their datasets: a scope of the paper's scale takes seconds to tens of
    seconds, which a run's end or a taxonomy edit (Table 3 reads the taxonomy) spends here instead of in a request.
    The names of the scopes warmed."""
    finished = ExtractionRun.objects.exclude(status__in=WRITING).order_by("-pk")
    runs = list(finished.values_list("pk", "dataset_id")[:DESCRIPTIVE_WARM_RUNS])
    if run_id is not None and all(pk != run_id for pk, _ in runs):
        runs += list(finished.filter(pk=run_id).values_list("pk", "dataset_id"))
    scopes = [Scope()]
    for pk, dataset_id in runs:
        scopes += [Scope(run_id=pk), Scope(dataset_id=dataset_id)]
    warmed: list[str] = []
    for scope in dict.fromkeys(scopes):  # a dataset of two runs once
        descriptive_results_cached(scope=scope)
        descriptive_corrections_cached(scope=scope)  # a run's: its shares corrected by the reviews
        warmed.append(f"descriptive {scope.describe()}")
    return warmed
