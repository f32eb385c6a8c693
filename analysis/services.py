"""Writes of the analysis app."""

from __future__ import annotations

# ==================================================================================================== taxonomy
import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils.module_loading import import_string

from analysis.descriptive import NONE_LABEL
from analysis.embeddings import Embedder, make_embedder
from analysis.models import (
    EditAction,
    MappingMethod,
    ResidualAnalysis,
    ResidualCell,
    Taxonomy,
    TaxonomyEdit,
    TaxonomyNode,
    TaxonomySource,
    ValueMapping,
)
from analysis.naming import PromptNamer
from analysis.residuals import AnalysisInputError, LabelSet, residual_table
from analysis.selectors import Scope, feature_labels, restrict, subjective_conversations, taxonomy_ancestor_names
from analysis.taxonomy import (
    CentralMemberNamer,
    Hierarchy,
    MappingResult,
    Namer,
    TaxonomyError,
    TaxonomyParams,
    build_hierarchy,
    compare_hierarchies,
    map_values,
    normalise_value,
    read_values_tree,
)
from corpus.models import Dataset
from extraction.models import ExtractionRun, Feature

NODE_BATCH = 2000


def taxonomy_embedder() -> Embedder:
    """The configured embedder (offline, cached per value under TAXONOMY_EMBEDDING_CACHE)."""
    return make_embedder(settings.TAXONOMY_EMBEDDING_MODEL or None, cache_dir=settings.TAXONOMY_EMBEDDING_CACHE)


def taxonomy_namer() -> Namer:
    """An LLM namer when TAXONOMY_NAMER points at a ``complete(prompt) -> str`` function, else the fallback."""
    if not settings.TAXONOMY_NAMER:
        return CentralMemberNamer()
    try:
        complete = import_string(settings.TAXONOMY_NAMER)
    except ImportError as exc:
        raise TaxonomyError(f"TAXONOMY_NAMER={settings.TAXONOMY_NAMER!r} cannot be imported: {exc}") from exc
    return PromptNamer(complete)


def _next_version(name: str) -> int:
    latest = Taxonomy.objects.filter(name=name).aggregate(v=Max("version"))["v"]
    return (latest or 0) + 1


MAX_VALUE_LENGTH = 500  # TaxonomyNode.key / ValueMapping.value


def distinct_values(values: Sequence[str]) -> list[str]:
    """Values de-duplicated by :func:`normalise_value`, first spelling kept, blanks dropped, order preserved.
    A value too long to store is an error that quotes its start."""
    seen: dict[str, str] = {}
    for v in values:
        key = normalise_value(v)
        if key and key not in seen:
            if len(v.strip()) > MAX_VALUE_LENGTH:
                raise TaxonomyError(
                    f"value {v.strip()[:60]!r}... is {len(v.strip())} characters; at most {MAX_VALUE_LENGTH} are stored"
                )
            seen[key] = v.strip()
    return list(seen.values())


def values_read_file(path: str | Path, *, column: str = "value") -> list[str]:
    """Values from a file: a CSV with a ``column`` column (e.g. the published values_frequencies.csv), or plain
    text with one value per line. Errors name the file (and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not UTF-8 text") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if column not in (reader.fieldnames or []):
            raise TaxonomyError(f"{path}:1: no {column!r} column (columns: {', '.join(reader.fieldnames or [])})")
        values = [(row.get(column) or "").strip() for row in reader]
    else:
        values = [line.strip() for line in text.splitlines()]
    values = [v for v in values if v]
    if not values:
        raise TaxonomyError(f"{path}: no values")
    return values


def taxonomy_import_tree(
    *, path: str | Path, name: str, feature: str = "ai_values", user: Any = None, notes: str = ""
) -> Taxonomy:
    """Import a taxonomy in the published ``values_tree.csv`` format as a new version of ``name``.

    The whole file is checked before anything is written; a bad file raises ``TaxonomyError`` naming file:line.
    """
    tree = read_values_tree(path)
    counts = tree.level_counts
    with transaction.atomic():
        taxonomy = Taxonomy.objects.create(
            name=name,
            version=_next_version(name),
            feature=feature,
            source=TaxonomySource.IMPORTED,
            params={"path": str(path), "level_counts": {str(k): v for k, v in counts.items()}},
            names_are_fallback=False,
            level_count=len(counts),
            notes=notes,
            created_by=user,
        )
        ids: dict[str, int] = {}
        for level in sorted(counts, reverse=True):
            rows = [r for r in tree.rows if r.level == level]
            created = TaxonomyNode.objects.bulk_create(
                [
                    TaxonomyNode(
                        taxonomy=taxonomy,
                        key=r.cluster_id,
                        level=r.level,
                        name=r.name,
                        description=r.description,
                        parent_id=ids[r.parent_cluster_id] if r.parent_cluster_id else None,
                        pct_total_occurrences=r.pct_total_occurrences,
                    )
                    for r in rows
                ],
                batch_size=NODE_BATCH,
            )
            ids.update({n.key: n.pk for n in created})
        _recount(taxonomy)
    return taxonomy


def taxonomy_build(
    *,
    values: Sequence[str],
    name: str,
    params: TaxonomyParams | None = None,
    feature: str = "ai_values",
    embedder: Embedder | None = None,
    namer: Namer | None = None,
    stability_seed: int | None = None,
    user: Any = None,
    build_key: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Taxonomy:
    """Cluster ``values`` into a new version of taxonomy ``name`` (Appendix A.6; see analysis.taxonomy).

    With ``stability_seed`` a second build with that seed is compared with the first (ARI per level) and the
    figure stored with the taxonomy. Nothing is written until the clustering has succeeded. A ``build_key`` already
    used returns the taxonomy built under it (queued builds rerun safely).
    """
    if build_key:
        done = Taxonomy.objects.filter(build_key=build_key).first()
        if done is not None:
            return done
    params = params or TaxonomyParams()
    embedder = embedder or taxonomy_embedder()
    namer = namer or taxonomy_namer()
    vals = distinct_values(values)
    params.targets(len(vals))  # impossible shapes fail here, before the model is loaded
    started = time.perf_counter()
    if progress:
        progress(f"embedding {len(vals)} values with {embedder.model_id}")
    vectors = embedder.encode(vals)
    hierarchy = build_hierarchy(vals, vectors, params, namer, progress)
    stability: dict[str, Any] = {}
    if stability_seed is not None:
        if progress:
            progress(f"stability: rebuilding with seed {stability_seed}")
        other = build_hierarchy(
            vals, vectors, TaxonomyParams(**{**asdict(params), "seed": stability_seed}), CentralMemberNamer()
        )
        stability = {
            "seeds": [params.seed, stability_seed],
            "ari_by_level": list(compare_hierarchies(hierarchy, other)),
        }
    elapsed = time.perf_counter() - started
    return _save_hierarchy(
        hierarchy,
        name=name,
        feature=feature,
        embedding_model=embedder.model_id,
        names_are_fallback=namer.is_fallback,
        stability=stability,
        build_seconds=elapsed,
        user=user,
        build_key=build_key,
    )


def _save_hierarchy(
    hierarchy: Hierarchy,
    *,
    name: str,
    feature: str,
    embedding_model: str,
    names_are_fallback: bool,
    stability: dict[str, Any],
    build_seconds: float,
    user: Any,
    build_key: str | None = None,
) -> Taxonomy:
    params = asdict(hierarchy.params)
    params["targets"] = list(hierarchy.targets)
    params["sizes"] = list(hierarchy.sizes)
    with transaction.atomic():
        taxonomy = Taxonomy.objects.create(
            name=name,
            version=_next_version(name),
            feature=feature,
            source=TaxonomySource.BUILT,
            params=params,
            embedding_model=embedding_model,
            names_are_fallback=names_are_fallback,
            level_count=len(hierarchy.levels),
            stability=stability,
            build_seconds=build_seconds,
            created_by=user,
            build_key=build_key,
        )
        upper_ids: list[int] = []
        for level in range(len(hierarchy.levels) - 1, -1, -1):
            clusters = hierarchy.levels[level]
            created = TaxonomyNode.objects.bulk_create(
                [
                    TaxonomyNode(
                        taxonomy=taxonomy,
                        key=c.name if level == 0 else f"{taxonomy.name}:l{level}:{c.index}",
                        level=level,
                        name=c.name,
                        description=c.description,
                        parent_id=upper_ids[c.parent] if c.parent is not None else None,
                        size=c.size,
                        name_is_fallback=c.name_is_fallback,
                    )
                    for c in clusters
                ],
                batch_size=NODE_BATCH,
            )
            upper_ids = [n.pk for n in created]
    return taxonomy


def _recount(taxonomy: Taxonomy) -> None:
    """Recompute every node's size (values beneath it) from the tree."""
    nodes = list(TaxonomyNode.objects.filter(taxonomy=taxonomy).only("id", "level", "parent_id", "size"))
    sizes = {n.pk: (1 if n.level == 0 else 0) for n in nodes}
    for n in sorted(nodes, key=lambda n: n.level):
        if n.parent_id is not None:
            sizes[n.parent_id] += sizes[n.pk]
    changed = [n for n in nodes if n.size != sizes[n.pk]]
    for n in changed:
        n.size = sizes[n.pk]
    TaxonomyNode.objects.bulk_update(changed, ["size"], batch_size=NODE_BATCH)


def _snapshot(node: TaxonomyNode) -> dict[str, Any]:
    return {
        "id": node.pk,
        "key": node.key,
        "level": node.level,
        "name": node.name,
        "description": node.description,
        "parent_id": node.parent_id,
    }


def taxonomy_node_rename(
    *, node: TaxonomyNode, name: str, description: str | None = None, user: Any = None
) -> TaxonomyNode:
    """Rename a cluster (the paper's manual review); logged with the old and new name."""
    name = " ".join(name.split())
    if not name:
        raise TaxonomyError("the new name is empty")
    if node.level == 0:
        raise TaxonomyError(f"{node.name!r} is a value (level 0), not a cluster: values keep their extracted label")
    with transaction.atomic():
        before = _snapshot(node)
        node.name = name
        node.name_is_fallback = False
        if description is not None:
            node.description = description.strip()
        node.save(update_fields=["name", "description", "name_is_fallback"])
        TaxonomyEdit.objects.create(
            taxonomy_id=node.taxonomy_id,
            node=node,
            action=EditAction.RENAME,
            before=before,
            after=_snapshot(node),
            user=user,
        )
    return node


def taxonomy_node_merge(*, source: TaxonomyNode, target: TaxonomyNode, user: Any = None) -> TaxonomyNode:
    """Merge cluster ``source`` into ``target`` (same taxonomy and level): its children move, it is deleted."""
    if source.taxonomy_id != target.taxonomy_id:
        raise TaxonomyError("cannot merge clusters of different taxonomies")
    if source.pk == target.pk:
        raise TaxonomyError("cannot merge a cluster into itself")
    if source.level != target.level:
        raise TaxonomyError(f"cannot merge level {source.level} into level {target.level}: levels must match")
    if source.level == 0:
        raise TaxonomyError("values (level 0) are not merged; map the value instead")
    with transaction.atomic():
        before = {"source": _snapshot(source), "target": _snapshot(target)}
        moved = list(source.children.values_list("id", flat=True))
        source.children.update(parent=target)
        source.delete()
        _recount(target.taxonomy)
        target.refresh_from_db()
        TaxonomyEdit.objects.create(
            taxonomy_id=target.taxonomy_id,
            node=target,
            action=EditAction.MERGE,
            before=before,
            after={"target": _snapshot(target), "moved_children": moved},
            user=user,
        )
    return target


def taxonomy_node_move(*, node: TaxonomyNode, new_parent: TaxonomyNode, user: Any = None) -> TaxonomyNode:
    """Move a node under another parent one level up. A parent may not be left empty: merge it instead."""
    if node.taxonomy_id != new_parent.taxonomy_id:
        raise TaxonomyError("cannot move a node into another taxonomy")
    if new_parent.level != node.level + 1:
        raise TaxonomyError(f"the new parent must be at level {node.level + 1} (it is at level {new_parent.level})")
    if node.parent_id == new_parent.pk:
        raise TaxonomyError(f"{node.name!r} is already under {new_parent.name!r}")
    with transaction.atomic():
        old_parent = node.parent
        if old_parent is not None and old_parent.children.count() == 1:
            raise TaxonomyError(
                f"moving {node.name!r} would leave {old_parent.name!r} empty; merge {old_parent.name!r} instead"
            )
        before = _snapshot(node)
        node.parent = new_parent
        node.save(update_fields=["parent"])
        _recount(node.taxonomy)
        node.refresh_from_db()
        TaxonomyEdit.objects.create(
            taxonomy_id=node.taxonomy_id,
            node=node,
            action=EditAction.MOVE,
            before=before,
            after=_snapshot(node),
            user=user,
        )
    return node


def taxonomy_map_values(
    *,
    taxonomy: Taxonomy,
    values: Sequence[str],
    threshold: float | None = None,
    embedder: Embedder | None = None,
    use_embeddings: bool = True,
) -> MappingResult:
    """Map ``values`` onto the taxonomy's values (level 0): exact after normalisation, then nearest neighbour by
    embedding at or above ``threshold`` (TAXONOMY_MAPPING_THRESHOLD by default); stored in ValueMapping, replacing
    earlier mappings of the same values. The unmapped are stored too, so they can be listed."""
    threshold = settings.TAXONOMY_MAPPING_THRESHOLD if threshold is None else threshold
    vals = distinct_values(values)
    leaves = dict(TaxonomyNode.objects.filter(taxonomy=taxonomy, level=0).values_list("name", "id"))
    if not leaves:
        raise TaxonomyError(f"taxonomy {taxonomy} has no values (level 0 nodes) to map onto")
    encode = (embedder or taxonomy_embedder()).encode if use_embeddings else None
    result = map_values(vals, list(leaves), encode, threshold)
    with transaction.atomic():
        ValueMapping.objects.filter(taxonomy=taxonomy, value__in=vals).delete()
        ValueMapping.objects.bulk_create(
            [
                ValueMapping(
                    taxonomy=taxonomy,
                    value=m.value,
                    node_id=leaves[m.target] if m.target is not None else None,
                    method=MappingMethod(m.method),
                    similarity=m.similarity,
                    threshold=threshold,
                )
                for m in result.matches
            ],
            batch_size=NODE_BATCH,
        )
    return result


# ================================================================================================ end taxonomy


# =========================================================================================== residuals & descriptive


class AnalysisRequestError(ValueError):
    """A residual analysis asked for something that does not exist or does not fit; the message says what."""


def _value_mapping(*, feature: str, level: int, taxonomy_id: int | None) -> tuple[Taxonomy, dict[str, str]]:
    """value -> ancestor name at ``level``, from the given taxonomy or the newest one of ``feature``."""
    if taxonomy_id is not None:
        taxonomy = Taxonomy.objects.filter(pk=taxonomy_id).first()
        if taxonomy is None:
            raise AnalysisRequestError(f"taxonomy {taxonomy_id} does not exist")
    else:
        taxonomy = Taxonomy.objects.filter(feature=feature).order_by("-created_at", "-id").first()
        if taxonomy is None:
            raise AnalysisRequestError(
                f"--level needs a taxonomy of {feature!r}; none exists (build or import one, or pass its id)"
            )
    try:
        return taxonomy, taxonomy_ancestor_names(taxonomy=taxonomy, level=level)
    except TaxonomyError as exc:
        raise AnalysisRequestError(str(exc)) from exc


def _resolve(labels: LabelSet, mapping: dict[str, str]) -> tuple[dict[str, str], int]:
    """The mapping for the labels as extracted (exact, then normalised spelling), and how many have no entry."""
    by_key = {normalise_value(k): v for k, v in mapping.items()}
    out: dict[str, str] = {}
    missing = 0
    for label in pd.unique(labels.label):
        target = mapping.get(label) or by_key.get(normalise_value(label))
        if target is None:
            missing += 1
        else:
            out[label] = target
    return out, missing


def residual_analysis_check(
    *,
    rows: str,
    cols: str,
    dataset_id: int | None = None,
    run_id: int | None = None,
    row_level: int | None = None,
    col_level: int | None = None,
    row_taxonomy_id: int | None = None,
    col_taxonomy_id: int | None = None,
) -> None:
    """Raise ``AnalysisRequestError`` naming the first thing in the request that does not exist or fit."""
    for name, feature in (("rows", rows), ("cols", cols)):
        if feature not in Feature.values:
            raise AnalysisRequestError(f"{name}: unknown feature {feature!r}; choose from {', '.join(Feature.values)}")
    if dataset_id is not None and not Dataset.objects.filter(pk=dataset_id).exists():
        raise AnalysisRequestError(f"dataset {dataset_id} does not exist")
    if run_id is not None and not ExtractionRun.objects.filter(pk=run_id).exists():
        raise AnalysisRequestError(f"extraction run {run_id} does not exist")
    for feature, level, taxonomy_id in ((rows, row_level, row_taxonomy_id), (cols, col_level, col_taxonomy_id)):
        if level is not None:
            _value_mapping(feature=feature, level=level, taxonomy_id=taxonomy_id)


def residual_analysis_create(
    *,
    rows: str,
    cols: str,
    dataset_id: int | None = None,
    run_id: int | None = None,
    row_level: int | None = None,
    col_level: int | None = None,
    row_taxonomy_id: int | None = None,
    col_taxonomy_id: int | None = None,
    min_conversations: int | None = None,
    alpha: float = 0.05,
    comparisons: str = "rows",
    top_k: int = 10,
    subjective_only: bool = True,
    include_none: bool = False,
    user: Any = None,
    request_key: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> ResidualAnalysis:
    """Compute the ``rows`` x ``cols`` adjusted residuals (analysis.residuals) and store the reported cells.

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
    k = settings.ANALYSIS_MIN_CONVERSATIONS if min_conversations is None else min_conversations
    residual_analysis_check(
        rows=rows,
        cols=cols,
        dataset_id=dataset_id,
        run_id=run_id,
        row_level=row_level,
        col_level=col_level,
        row_taxonomy_id=row_taxonomy_id,
        col_taxonomy_id=col_taxonomy_id,
    )
    scope = Scope(dataset_id=dataset_id, run_id=run_id)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    step(f"loading {rows} and {cols} labels ({scope.describe()})")
    row_labels = feature_labels(feature=rows, scope=scope)
    col_labels = feature_labels(feature=cols, scope=scope)
    subjective = subjective_conversations(scope=scope) if subjective_only else None
    row_labels, col_labels = restrict(row_labels, subjective), restrict(col_labels, subjective)
    timings["load"] = time.perf_counter() - started

    notes: list[str] = []
    if subjective_only and subjective is None:
        notes.append("no subjectivity labels in scope: all conversations were used")
    mappings: dict[str, dict[str, str] | None] = {"rows": None, "cols": None}
    taxonomies: dict[str, Taxonomy | None] = {"rows": None, "cols": None}
    for side, feature, level, tax_id, labels in (
        ("rows", rows, row_level, row_taxonomy_id, row_labels),
        ("cols", cols, col_level, col_taxonomy_id, col_labels),
    ):
        if level is None:
            continue
        taxonomy, mapping = _value_mapping(feature=feature, level=level, taxonomy_id=tax_id)
        resolved, missing = _resolve(labels, mapping)
        if missing:
            notes.append(f"{missing} {feature} label(s) not in taxonomy {taxonomy} were left out")
        mappings[side], taxonomies[side] = resolved, taxonomy

    step("building the table")
    t0 = time.perf_counter()
    try:
        table = residual_table(
            row_labels,
            col_labels,
            row_mapping=mappings["rows"],
            col_mapping=mappings["cols"],
            unmapped="drop",
            min_conversations=k,
            alpha=alpha,
            comparisons=comparisons,  # type: ignore[arg-type]
            empty_row_label=NONE_LABEL if include_none and rows == Feature.HUMAN_VALUES else None,
            empty_col_label=NONE_LABEL if include_none and cols == Feature.HUMAN_VALUES else None,
        )
        report = table.report(top_k=top_k)
    except AnalysisInputError as exc:
        raise AnalysisRequestError(str(exc)) from exc
    timings["compute"] = time.perf_counter() - t0

    step(f"storing {len(report.cells)} cells")
    t0 = time.perf_counter()
    summary = report.summary()
    summary["notes"] = [*summary["notes"], *notes]  # type: ignore[misc]
    params = {
        "min_conversations": k,
        "alpha": alpha,
        "comparisons": comparisons,
        "top_k": top_k,
        "subjective_only": subjective_only,
        "include_none": include_none,
    }
    with transaction.atomic():
        analysis = ResidualAnalysis.objects.create(
            row_feature=rows,
            col_feature=cols,
            row_level=row_level,
            col_level=col_level,
            row_taxonomy=taxonomies["rows"],
            col_taxonomy=taxonomies["cols"],
            dataset_id=dataset_id,
            run_id=run_id,
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
        summary["seconds"] = {k: round(v, 3) for k, v in timings.items()}
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
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY analysis_residualcell (analysis_id, {', '.join(CELL_COLUMNS)}) FROM STDIN WITH (FORMAT binary)"
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


# ======================================================================================= end residuals & descriptive
