"""Offline embeddings: the packaged model, the per-value cache, and failing fast without the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxonomy.embeddings import (
    DEFAULT_MODEL,
    CachedEmbedder,
    EmbeddingError,
    SentenceTransformerEmbedder,
    make_embedder,
    packaged_model_path,
    resolve_model,
)


class CountingEmbedder:
    """Our own Embedder protocol, counting what reaches the model."""

    model_id = "counting/model v1"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_default_model_is_the_packaged_directory() -> None:
    model_id, target = resolve_model(None)
    assert model_id == DEFAULT_MODEL
    assert Path(target) == packaged_model_path()
    assert (Path(target) / "model.safetensors").is_file()


def test_a_local_directory_is_used_as_is(tmp_path: Path) -> None:
    model_id, target = resolve_model(str(tmp_path))
    assert (model_id, target) == (tmp_path.name, str(tmp_path.resolve()))


def test_cache_only_embeds_unseen_texts_and_persists(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, tmp_path)
    first = cached.encode(["honesty", "care", "honesty"])
    assert inner.seen == ["honesty", "care"]
    assert first.shape == (3, 3)
    assert np.array_equal(first[0], first[2])
    assert cached.path.name == "counting_model_v1.npz"

    again = CachedEmbedder(CountingEmbedder(), tmp_path)
    assert np.array_equal(again.encode(["care", "honesty"]), first[[1, 0]])
    assert again.inner.seen == []  # type: ignore[attr-defined]
    again.encode(["safety"])
    assert again.inner.seen == ["safety"]  # type: ignore[attr-defined]
    assert (again.hits, again.misses) == (2, 1)


def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, tmp_path)
    cached.path.write_bytes(b"not a zip file")
    assert cached.encode(["honesty"]).shape == (1, 3)
    assert inner.seen == ["honesty"]
    assert CachedEmbedder(CountingEmbedder(), tmp_path).encode(["honesty"]).shape == (1, 3)


@pytest.mark.slow
def test_packaged_model_embeds_offline_with_meaningful_similarities(tmp_path: Path) -> None:
    embedder = make_embedder(None, cache_dir=tmp_path)
    vectors = embedder.encode(["honesty", "truthfulness", "database indexing"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert (tmp_path / f"{DEFAULT_MODEL}.npz").is_file()


@pytest.mark.slow
def test_a_model_that_is_not_on_disk_fails_without_downloading() -> None:
    embedder = SentenceTransformerEmbedder("no-such-organisation/no-such-model-for-tests")
    with pytest.raises(EmbeddingError, match="not available offline"):
        embedder.encode(["honesty"])
