"""Reports cached by the version of the data they read.

A page that sums millions of rows (a run's costs, a dataset's conversations per model, the paper's descriptive
tables) computes its figures once per version of its data and reads them from Django's cache after. A version is a
small value read in a few indexed queries (newest ids, a run's status and counters: see
``extraction.selectors.extraction_data_version`` and ``corpus.selectors.corpus_data_version``) that changes with
every write the product makes to what the report reads; a new version is a new key, so nothing is ever served
stale and nothing needs deleting. None as the version means "may be changing right now": computed every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")
#: How long a report computed for one version of the data is kept (a newer version is a new key anyway).
REPORT_CACHE_SECONDS = 24 * 3600


def version_key(*parts: object) -> str:
    """A short digest of ``parts`` (values with a stable ``repr``)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def cached_report(*, name: str, version: object | None, compute: Callable[[], T]) -> T:
    """``compute()``, kept in the cache under ``name`` and the data ``version`` it was computed from; computed
    afresh on every call when ``version`` is None."""
    if version is None:
        return compute()
    key = f"report:{version_key(name, version)}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, REPORT_CACHE_SECONDS)
    return found
