"""Celery tasks of the corpus app: thin wrappers over services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

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
