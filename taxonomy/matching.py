"""What a soft match of value labels borrows from the taxonomy: each value's node, and the offline embedder.

The validation app scores outputs against gold sets and counts two values as the same when they land on the
same taxonomy node or their embeddings are similar; it may not import the analysis apps (the import contracts),
so it reaches this function through the setting ``VALUE_MATCH_SOURCES`` (a dotted path).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from taxonomy.models import ValueMapping
from taxonomy.services import taxonomy_embedder


def value_match_sources(
    *, embeddings: bool = False
) -> tuple[dict[str, str], Callable[[list[str]], NDArray[np.float32]] | None]:
    """Every mapped value's node key (``"taxonomy id:node id"``, so two taxonomies never mix; a value mapped in
    several taxonomies keeps the newest's) and, when ``embeddings``, the configured offline embedder's
    ``encode`` (L2-normalised vectors, so a dot product is the cosine similarity)."""
    mapping = {
        value: f"{taxonomy_id}:{node_id}"
        for value, taxonomy_id, node_id in ValueMapping.objects.exclude(node=None)
        .order_by("taxonomy_id")
        .values_list("value", "taxonomy_id", "node_id")
    }
    return mapping, (taxonomy_embedder().encode if embeddings else None)
