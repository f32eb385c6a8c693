"""Celery tasks of the corpus app: thin wrappers over services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from corpus.cache import reports_warm
from corpus.services import conversation_import


@shared_task(name="corpus.import_conversations")
def import_conversations_task(path: str, dataset: str, fmt: str = "auto", skip_invalid: bool = False) -> dict[str, Any]:
    """Import a file in the background. Idempotent: a rerun reports the conversations as duplicates."""
    summary = conversation_import(path=path, dataset=dataset, fmt=fmt, skip_invalid=skip_invalid)
    return {
        "dataset": summary.dataset,
        "imported": summary.imported,
        "duplicates": summary.duplicates,
        "rejected": [{"line": r.line, "reason": r.reason} for r in summary.rejected],
    }


@shared_task(name="corpus.reports_warm", acks_late=True)
def reports_warm_task(run_id: int | None = None) -> list[str]:
    """Compute the big reports of the data as it now stands into the cache (see ``corpus.cache``). Idempotent: a
    report already computed for the current version is read from the cache, not computed again."""
    return reports_warm(run_id=run_id)
