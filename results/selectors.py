"""Reads of the results app: the labels an analysis reads, stored residual analyses, descriptive results."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.module_loading import import_string

from corpus.cache import cached_report
from corpus.models import Conversation
from corpus.selectors import ids_in
from extraction.models import RESPONSE_TYPES, Feature
from extraction.selectors import extraction_data_version
from results import descriptive
from results.descriptive import DescriptiveTable
from results.labels import AnalysisInputError, LabelSet, restrict
from results.models import ResidualAnalysis, ResidualCell
from taxonomy.selectors import taxonomy_data_version, taxonomy_newest, taxonomy_value_ancestors

# Labels leave the database in one query per feature, in long form (conversation id, label), ready for the sparse
# code in results.residuals. On PostgreSQL the JSON lists are expanded by the server and streamed with COPY.


@dataclass(frozen=True)
class Scope:
    """Which extractions an analysis reads: one run, one dataset, or everything."""

    dataset_id: int | None = None
    run_id: int | None = None

    def describe(self) -> str:
        if self.run_id is not None:
            return f"run {self.run_id}"
        if self.dataset_id is not None:
            return f"dataset {self.dataset_id}"
        return "all datasets"


def _scope_sql(feature: str, scope: Scope) -> tuple[str, list[int | str]]:
    """WHERE clause (on ``extraction_extraction e``) selecting the parsed extractions of ``feature`` in scope."""
    where = ["e.feature = %s", "e.status = %s"]
    params: list[int | str] = [feature, "ok"]
    if scope.run_id is not None:
        where.append("e.run_id = %s")
        params.append(scope.run_id)
    if scope.dataset_id is not None:
        where.append("e.conversation_id IN (SELECT id FROM corpus_conversation WHERE dataset_id = %s)")
        params.append(scope.dataset_id)
    return " AND ".join(where), params


def feature_labels(*, feature: str, scope: Scope) -> LabelSet:
    """Every label of ``feature`` in ``scope`` (newest parsed extraction per conversation), in long form.

    Conversations whose extraction has an empty label list are kept in ``extracted``.
    """
    if feature not in Feature.values:
        raise AnalysisInputError(f"unknown feature {feature!r}; choose from {', '.join(Feature.values)}")
    where, params = _scope_sql(feature, scope)
    frame = _labels_postgres(where, params) if connection.vendor == "postgresql" else _labels_generic(where, params)
    # Several prompt versions or models may have labelled one conversation: keep the newest extraction.
    if len(frame):
        newest = frame.groupby("conversation")["extraction"].transform("max").to_numpy()
        frame = frame[frame["extraction"].to_numpy() == newest]
    has_label = frame["label"].notna().to_numpy()
    conv = frame["conversation"].to_numpy(dtype=np.int64)
    return LabelSet(
        name=feature,
        conversation=conv[has_label],
        label=frame["label"].to_numpy(dtype=object)[has_label],
        extracted=np.unique(conv),
    )


EMPTY_LABELS = pd.DataFrame(
    {"extraction": np.empty(0, np.int64), "conversation": np.empty(0, np.int64), "label": np.empty(0, object)}
)


def _labels_postgres(where: str, params: list[int | str]) -> pd.DataFrame:
    """The server expands the JSON lists into one CSV text (extraction, conversation, label); pandas parses it.

    One aggregated value rather than COPY TO: COPY sends a message per row, and reading 1.2M of them
    costs seconds of Python. JIT compilation is off: it costs more than it saves on this query.
    """
    query = (
        "SELECT string_agg(e.id::text || ',' || e.conversation_id::text || ',' || "
        "COALESCE('\"' || replace(l.value, '\"', '\"\"') || '\"', ''), E'\\n') "
        "FROM extraction_extraction e "
        "LEFT JOIN LATERAL jsonb_array_elements_text("
        "CASE WHEN jsonb_typeof(e.labels) = 'array' THEN e.labels ELSE '[]'::jsonb END) AS l(value) ON TRUE "
        f"WHERE {where}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(query, params)
        row = cursor.fetchone()
    text = row[0] if row else None
    if not text:
        return EMPTY_LABELS.copy()
    return pd.read_csv(
        io.StringIO(text),
        header=None,
        names=["extraction", "conversation", "label"],
        dtype={"extraction": np.int64, "conversation": np.int64, "label": object},
        keep_default_na=False,
        na_values=[""],
        quoting=csv.QUOTE_MINIMAL,
    )


def _labels_generic(where: str, params: list[int | str]) -> pd.DataFrame:
    import json

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT e.id, e.conversation_id, e.labels FROM extraction_extraction e WHERE {where}", params)
        rows = cursor.fetchall()
    ext: list[int] = []
    conv: list[int] = []
    lab: list[object] = []
    for extraction_id, conversation_id, labels in rows:
        parsed = json.loads(labels) if isinstance(labels, str) else labels
        items: list[object] = [x for x in parsed if isinstance(x, str) and x] if isinstance(parsed, list) else []
        for item in items or [None]:
            ext.append(extraction_id)
            conv.append(conversation_id)
            lab.append(item)
    if not ext:
        return EMPTY_LABELS.copy()
    return pd.DataFrame(
        {
            "extraction": np.asarray(ext, dtype=np.int64),
            "conversation": np.asarray(conv, dtype=np.int64),
            "label": np.asarray(lab, dtype=object),
        }
    )


def subjective_conversations(*, scope: Scope) -> np.ndarray | None:
    """Ids of conversations judged subjective (labels in ANALYSIS_SUBJECTIVE_LABELS), or None when the scope has
    no subjectivity extraction at all (then nothing is filtered)."""
    labels = feature_labels(feature=Feature.SUBJECTIVITY, scope=scope)
    if not len(labels.conversations()):
        return None
    accepted = {s.strip().lower() for s in settings.ANALYSIS_SUBJECTIVE_LABELS}
    keep = np.array([str(v).strip().lower() in accepted for v in labels.label], dtype=bool)
    return np.unique(labels.conversation[keep])


def conversation_models(*, conversations: np.ndarray) -> dict[int, str]:
    """The model that answered each conversation (unknown ones left out)."""
    ids = [int(c) for c in conversations]
    # One query on PostgreSQL (the ids as one array); chunks elsewhere, under SQLite's limit of query parameters.
    size = len(ids) if connection.vendor == "postgresql" else 50_000
    out: dict[int, str] = {}
    for start in range(0, len(ids), size or 1):
        found = Conversation.objects.filter(pk__in=ids_in(ids[start : start + size])).exclude(model="")
        out.update(found.values_list("pk", "model"))
    return out


def residual_analysis_list() -> QuerySet[ResidualAnalysis]:
    return ResidualAnalysis.objects.select_related("dataset", "run").order_by("-created_at", "-id")


def residual_cells(
    *,
    analysis: ResidualAnalysis,
    significant: bool | None = None,
    row: str | None = None,
    col: str | None = None,
    negative: bool = False,
) -> QuerySet[ResidualCell]:
    qs = ResidualCell.objects.filter(analysis=analysis)
    if significant is not None:
        qs = qs.filter(significant=significant)
    if significant:
        # Implied by significance (|r| >= the critical value, results.residuals), and what lets the database read the
        # two ends of the residual index rather than every stored cell (194,104 at the paper's scale, maybe none
        # significant).
        beyond = analysis.critical_value
        qs = qs.filter(Q(residual__gte=beyond) | Q(residual__lte=-beyond))
    if row:
        qs = qs.filter(row_label=row)
    if col:
        qs = qs.filter(col_label=col)
    return qs.order_by("residual" if negative else "-residual", "row_label", "col_label")


def residual_strongest(*, analysis: ResidualAnalysis, negative: bool = False, limit: int = 50) -> list[ResidualCell]:
    """The ``limit`` stored cells with the highest positive (or, with ``negative``, lowest negative) residuals."""
    cells = residual_cells(analysis=analysis, negative=negative)
    cells = cells.filter(residual__lt=0) if negative else cells.filter(residual__gt=0)
    return list(cells[:limit])


def descriptive_results(
    *,
    scope: Scope,
    min_conversations: int | None = None,
    top: int = 20,
    subjective_only: bool = True,
    category_mapping: dict[str, str] | None = None,
    watchlist: list[str] | None = None,
) -> dict[str, DescriptiveTable]:
    """The paper's descriptive tables for the conversations in ``scope``; a table whose features were not
    extracted is left out. ``category_mapping``: value -> top-level category (Table 3)."""
    k = settings.ANALYSIS_MIN_CONVERSATIONS if min_conversations is None else min_conversations
    subjective = subjective_conversations(scope=scope) if subjective_only else None
    loaded = {f: restrict(feature_labels(feature=f, scope=scope), subjective) for f in DESCRIPTIVE_FEATURES}
    present = {f: labels for f, labels in loaded.items() if len(labels.conversations())}
    ai = present.get(Feature.AI_VALUES)
    human = present.get(Feature.HUMAN_VALUES)
    response = present.get(Feature.RESPONSE_TYPE)
    stated = present.get(Feature.AI_VALUES_STATED)
    task = present.get(Feature.TASK)
    out: dict[str, DescriptiveTable] = {}
    if ai is not None:
        out["ai_values"] = descriptive.value_shares(ai, min_conversations=k, top=top)
        everyone = ai.conversations()
        out["values_by_model"] = descriptive.compare_models(
            ai, conversation_models(conversations=everyone), top=min(top, 10), min_conversations=k
        )
        out["safety_review"] = descriptive.safety_review(
            ai,
            terms=watchlist or settings.ANALYSIS_SAFETY_WATCHLIST or descriptive.DEFAULT_WATCHLIST,
            tasks=task,
            min_conversations=k,
        )
        mapping = category_mapping if category_mapping is not None else _top_categories(ai)
        if mapping:
            out["categories"] = descriptive.category_shares(ai, mapping, min_conversations=k)
        if task is not None:
            out["ai_values_cv"] = descriptive.coefficient_of_variation(ai, task, min_conversations=k, top=top)
    if human is not None:
        out["human_values"] = descriptive.value_shares(human, min_conversations=k, top=top)
    if response is not None:
        models = conversation_models(conversations=response.conversations())
        out["response_types"] = descriptive.response_type_distribution(response, min_conversations=k)
        out["response_types_by_model"] = descriptive.response_type_distribution(
            response, groups=models, min_conversations=k
        )
    if ai is not None and human is not None:
        out["value_pairs"] = descriptive.top_value_pairs(ai, human, top=top, min_conversations=k)
        out["value_pairs_non_null"] = descriptive.top_value_pairs(
            ai, human, include_none=False, top=top, min_conversations=k
        )
        out["mirrored_values"] = descriptive.mirrored_values(ai, human, min_conversations=k, top=top)
        if response is not None:
            out["mirroring"] = descriptive.value_mirroring(ai, human, response, min_conversations=k)
            out["value_pairs_by_response"] = descriptive.top_value_pairs(
                ai, human, response=response, include_none=False, top=5, min_conversations=k
            )
    if stated is not None:
        out["stated_values"] = descriptive.value_shares(stated, min_conversations=k, top=top)
        if ai is not None and response is not None:
            out["stated_vs_all"] = descriptive.stated_vs_all(ai, stated, response, min_conversations=k)
    return out


#: Rows per table on the descriptive page (and in the reports warmed for it).
DESCRIPTIVE_PAGE_TOP = 20


def descriptive_results_cached(*, scope: Scope, top: int = DESCRIPTIVE_PAGE_TOP) -> dict[str, DescriptiveTable]:
    """:func:`descriptive_results` with the settings' defaults, computed once per version of the extractions in
    scope and of the taxonomies (the categories of Table 3), then read from the cache."""
    version = extraction_data_version(dataset_id=scope.dataset_id, run_id=scope.run_id)
    return cached_report(
        name=f"descriptive-{scope.dataset_id}-{scope.run_id}-{top}",
        version=None if version is None else (version, taxonomy_data_version()),
        compute=lambda: descriptive_results(scope=scope, top=top),
    )


def descriptive_corrections_cached(*, scope: Scope, top: int = DESCRIPTIVE_PAGE_TOP) -> dict[str, Any]:
    """:func:`descriptive_corrections`, computed once per version of what it reads (the run's outputs, the reviews
    behind the gold labels, the taxonomy of Table 3's categories), then read from the cache: seconds of queries and
    pandas at the paper's scale, on every view of a run's tables before."""
    if scope.run_id is None:
        return {}
    version = import_string(settings.DESCRIPTIVE_CORRECTIONS_VERSION)(run_id=scope.run_id)
    return cached_report(
        name=f"descriptive-corrections-{scope.run_id}-{top}",
        version=None if version is None else (version, taxonomy_data_version()),
        compute=lambda: descriptive_corrections(scope=scope, top=top),
    )


def descriptive_corrections(*, scope: Scope, top: int = 20, subjective_only: bool = True) -> dict[str, Any]:
    """The LLM-only shares of one run's descriptive tables corrected by its reviews (prediction-powered inference,
    computed by the validation app through ``settings.DESCRIPTIVE_CORRECTIONS``): ``ai_values`` (Table 1),
    ``categories`` (Table 3: a value in the category), ``response_type`` (Table 9) over the conversations the
    tables count, and ``subjectivity`` over every conversation of the run. Empty unless the scope is one run."""
    if scope.run_id is None:
        return {}
    correct = import_string(settings.DESCRIPTIVE_CORRECTIONS)
    subjective = subjective_conversations(scope=scope) if subjective_only else None
    ai = restrict(feature_labels(feature=Feature.AI_VALUES, scope=scope), subjective)
    mapping = _top_categories(ai) if len(ai.conversations()) else {}
    out: dict[str, Any] = correct(
        run_id=scope.run_id,
        features=[str(Feature.AI_VALUES), str(Feature.RESPONSE_TYPE)],
        labels={str(Feature.RESPONSE_TYPE): list(RESPONSE_TYPES)},
        category_mapping=mapping or None,
        category_feature=str(Feature.AI_VALUES),
        conversation_ids=None if subjective is None else [int(c) for c in subjective],
        top=top,
    )
    subjectivity = correct(
        run_id=scope.run_id,
        features=[str(Feature.SUBJECTIVITY)],
        labels={str(Feature.SUBJECTIVITY): [s.strip().lower() for s in settings.ANALYSIS_SUBJECTIVE_LABELS]},
    )
    out[str(Feature.SUBJECTIVITY)] = subjectivity[str(Feature.SUBJECTIVITY)]
    return out


def _top_categories(labels: LabelSet) -> dict[str, str]:
    """Extracted value -> top-level category of the newest taxonomy of the feature (exact spelling, then
    normalised); empty when there is no taxonomy."""
    taxonomy = taxonomy_newest(feature=labels.name)
    if taxonomy is None:
        return {}
    return taxonomy_value_ancestors(taxonomy=taxonomy, level=None, values=pd.unique(labels.label))[0]


DESCRIPTIVE_FEATURES = (
    Feature.AI_VALUES,
    Feature.HUMAN_VALUES,
    Feature.RESPONSE_TYPE,
    Feature.AI_VALUES_STATED,
    Feature.TASK,
)
