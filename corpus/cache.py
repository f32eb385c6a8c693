"""Reports cached by the version of the data they read.

A page that sums millions of rows (a run's costs, a dataset's conversations per model, the paper's descriptive
tables) computes its figures once per version of its data and reads them from Django's cache after. A version is a
small value read in a few indexed queries (newest ids, a run's status and counters: see
``extraction.selectors.extraction_data_version`` and ``corpus.selectors.corpus_data_version``) that changes with
every write the product makes to what the report reads; a new version is a new key, so nothing is ever served
stale and nothing needs deleting. None as the version means "may be changing right now": computed every time.

The first request after a change would compute such a report (tens of seconds at the paper's scale), so the writes
that change what the big reports read (a run ending, a taxonomy edit) call :func:`reports_warm_soon`: once the write
is committed, a Celery task (run in place when there is no broker, as in the demo) calls each function of the
setting ``REPORT_WARMERS``, which computes its reports for the new version into the cache under the keys the pages
read. A warmer that fails is logged and skipped: the page then computes its report itself, as without the warm-up.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

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


def reports_warm(*, run_id: int | None = None) -> list[str]:
    """Call every warmer of ``settings.REPORT_WARMERS`` (dotted paths to ``warm(*, run_id) -> list[str]``): the
    names of the reports now in the cache. ``run_id``: the run whose end asked for it, if one did."""
    warmed: list[str] = []
    for path in settings.REPORT_WARMERS:
        try:
            warmed += import_string(path)(run_id=run_id)
        except Exception:  # a warm-up is an optimisation: its failure must not fail the write that asked for it
            logger.exception("warming the reports of %s failed; their pages will compute them", path)
    return warmed


#: Seconds a queued warm-up waits before it starts: the writes of a burst (reviews arriving one webhook at a time)
#: are warmed by one task, which sees all of them, instead of one task each.
WARM_DELAY_S = 30


def reports_warm_soon(*, run_id: int | None = None) -> None:
    """Queue :func:`reports_warm` for when the current transaction commits (at once outside one), unless one is
    already queued and has not started yet; nothing when ``settings.REPORTS_WARM`` is off. Without a broker (the
    demo) the warm-up runs in place, at once. A warm-up is an optimisation: a cache or broker that is down is
    logged, and the write that asked for it goes on (the pages then compute their reports themselves)."""
    if not settings.REPORTS_WARM:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(functools.partial(_warm_queue, run_id, countdown=None))
        return
    try:
        first = cache.add(f"reports-warm-queued:{run_id}", True, timeout=WARM_DELAY_S)
    except Exception:  # the cache is down
        logger.warning("reports not warmed: the cache is unreachable", exc_info=True)
        return
    if first:
        transaction.on_commit(functools.partial(_warm_queue, run_id, countdown=WARM_DELAY_S))


def _warm_queue(run_id: int | None, *, countdown: int | None) -> None:
    from kombu.exceptions import OperationalError

    from corpus.tasks import reports_warm_task

    try:
        reports_warm_task.apply_async((run_id,), countdown=countdown)  # type: ignore[attr-defined]
    except (OSError, OperationalError) as exc:
        logger.warning("reports not warmed: the task queue is unreachable (%s)", exc)
