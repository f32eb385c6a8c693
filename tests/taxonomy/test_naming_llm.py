"""Cluster names from a language model through the extraction client, against the local fake API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from taxonomy.clustering import TaxonomyParams
from taxonomy.services import taxonomy_build, taxonomy_namer
from testing.fake_anthropic import FakeAnthropic

VALUES = [f"value {i}" for i in range(24)]


class GridEmbedder:
    """Deterministic vectors: four well-separated groups of six values."""

    model_id = "grid"

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            i = int(text.split()[-1])
            vec = np.zeros(8)
            vec[i // 6] = 1.0
            vec[4 + i % 4] = 0.05
            rows.append(vec / np.linalg.norm(vec))
        return np.array(rows)


@pytest.mark.django_db
def test_clusters_are_named_by_the_model_through_the_extraction_client(
    fake_anthropic: FakeAnthropic, settings: Any
) -> None:
    settings.ANTHROPIC_BASE_URL = fake_anthropic.base_url
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.TAXONOMY_NAMER = "extraction.services.namer_complete"
    taxonomy = taxonomy_build(
        values=VALUES,
        name="named",
        params=TaxonomyParams(levels=2, n_top=4, seed=0),
        embedder=GridEmbedder(),
        namer=taxonomy_namer(),
    )
    assert not taxonomy.names_are_fallback
    parents = list(taxonomy.nodes.filter(level=1).values_list("name", flat=True))
    assert len(parents) == 4
    assert all(name.endswith(" and related values") for name in parents), parents
    answered = [r for r in fake_anthropic.log if r.kind == "message" and r.status == 200]
    assert len(answered) >= 4
    assert {r.model for r in answered} == {settings.LLM_TEXT_MODEL}


@pytest.mark.django_db
def test_an_unconfigured_client_is_a_naming_error_not_a_traceback(settings: Any) -> None:
    from taxonomy.naming import NamingError

    settings.ANTHROPIC_API_KEY = ""
    settings.TAXONOMY_NAMER = "extraction.services.namer_complete"
    with pytest.raises(NamingError, match="ANTHROPIC_API_KEY"):
        taxonomy_namer().name_cluster(["honesty", "truthfulness"])
