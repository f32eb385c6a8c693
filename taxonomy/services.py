"""Writes of the taxonomy app: builds, imports, review edits and value mappings."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from corpus.cache import reports_warm_soon
from corpus.versions import version_create
from taxonomy.clustering import (
    CentralMemberNamer,
    Hierarchy,
    Namer,
    TaxonomyParams,
    build_hierarchy,
    compare_hierarchies,
)
from taxonomy.embeddings import Embedder, make_embedder
from taxonomy.models import (
    EditAction,
    MappingMethod,
    Taxonomy,
    TaxonomyEdit,
    TaxonomyNode,
    TaxonomySource,
    ValueMapping,
)
from taxonomy.naming import PromptNamer
from taxonomy.requests import TaxonomyBuildRequest
from taxonomy.selectors import extracted_value_counts
from taxonomy.values import MappingResult, TaxonomyError, distinct_values, map_values, read_values_tree

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


def _taxonomy_version_create(*, name: str, build_key: str | None = None, **fields: Any) -> tuple[Taxonomy, bool]:
    """A new version of ``name`` (``corpus.versions.version_create``), and True; when another delivery of the same
    queued build stored ``build_key`` first, that taxonomy and False, with nothing written."""

    def stored() -> Taxonomy | None:
        return Taxonomy.objects.filter(build_key=build_key).first() if build_key else None

    return version_create(Taxonomy, name=name, stored=stored, build_key=build_key, **fields)


def taxonomy_import_tree(
    *, path: str | Path, name: str, feature: str = "ai_values", user: Any = None, notes: str = ""
) -> Taxonomy:
    """Import a taxonomy in the published ``values_tree.csv`` format as a new version of ``name``.

    The whole file is checked before anything is written; a bad file raises ``TaxonomyError`` naming file:line.
    """
    tree = read_values_tree(path)
    counts = tree.level_counts
    with transaction.atomic():
        taxonomy, _ = _taxonomy_version_create(
            name=name,
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
        reports_warm_soon()  # the descriptive tables group values by the newest taxonomy
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
    """Cluster ``values`` into a new version of taxonomy ``name`` (Appendix A.6; see taxonomy.clustering).

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


def taxonomy_build_from_request(
    *,
    request: TaxonomyBuildRequest,
    values: Sequence[str] | None = None,
    user: Any = None,
    build_key: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Taxonomy:
    """The build ``request`` asks for, from ``values`` when given, else from the parsed extractions of the
    request's feature (and dataset). A ``build_key`` already used returns the taxonomy built under it."""
    if build_key:
        done = Taxonomy.objects.filter(build_key=build_key).first()
        if done is not None:
            return done
    if values is None:
        values = list(extracted_value_counts(feature=request.feature, dataset_id=request.dataset_id))
        if not values:
            raise TaxonomyError(f"no parsed {request.feature} extractions to build a taxonomy from")
    return taxonomy_build(
        values=values,
        name=request.name,
        feature=request.feature,
        params=request.params(),
        stability_seed=request.second_seed(),
        user=user,
        build_key=build_key,
        progress=progress,
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
        taxonomy, created = _taxonomy_version_create(
            name=name,
            build_key=build_key,
            feature=feature,
            source=TaxonomySource.BUILT,
            params=params,
            embedding_model=embedding_model,
            names_are_fallback=names_are_fallback,
            level_count=len(hierarchy.levels),
            stability=stability,
            build_seconds=build_seconds,
            created_by=user,
        )
        if not created:  # the same queued build, delivered twice, stored by the other delivery
            return taxonomy
        upper_ids: list[int] = []
        for level in range(len(hierarchy.levels) - 1, -1, -1):
            clusters = hierarchy.levels[level]
            created_nodes = TaxonomyNode.objects.bulk_create(
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
            upper_ids = [n.pk for n in created_nodes]
        reports_warm_soon()
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
        reports_warm_soon()
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
        reports_warm_soon()
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
        reports_warm_soon()
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
        reports_warm_soon()
    return result
